package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Version is the Kubernetes version Skiff speaks; gitVersion carries
// Skiff's own build too, as k3s does ("v1.37.2+skiff").
var skiffVersion = version.Info{
	Major:      "1",
	Minor:      "37",
	GitVersion: "v1.37.2+skiff",
	GitCommit:  "",
	Platform:   "linux/amd64",
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "Skiff: the Kubernetes architecture in one small binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newUpCommand(),
		newServerCommand(),
		newAPIServerCommand(),
		newSchedulerCommand(), newControllerManagerCommand(),
		newKubeletCommand(),
		newAgentCommand(),
		newProxyCommand(),
		newPodNetCommand(),
		newNetpolCommand(),
		newKubeconfigCommand(),
		newVersionCommand(),
		newBenchCommand(),
		newImagesCommand(),
	)
	return root
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func newLogger(verbosity int) *slog.Logger {
	level := slog.LevelInfo
	if verbosity >= 4 {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, args []string) {
			cmd.Printf("skiff %s (Kubernetes %s.%s)\n", skiffVersion.GitVersion, skiffVersion.Major, skiffVersion.Minor)
		},
	}
}

// requiredKubeconfig loads the client config of a component's required
// --kubeconfig flag.
func requiredKubeconfig(path string) (*rest.Config, error) {
	if path == "" {
		return nil, errors.New("--kubeconfig is required")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig: %w", err)
	}
	return rc, nil
}
