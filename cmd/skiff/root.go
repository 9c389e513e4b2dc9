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
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/component"
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

// nodeComponentCommand is the shared RunE of the commands that run one
// node component alone (proxy, podnet, netpol): with --cleanup it runs
// cleanup and exits; otherwise it builds the components from the
// --kubeconfig's config and runs them until a signal.
type nodeComponentCommand struct {
	kubeconfigPath string
	cleanup        bool
	verbosity      int
}

func (n *nodeComponentCommand) register(fs *pflag.FlagSet, cleanupHelp string) {
	fs.StringVar(&n.kubeconfigPath, "kubeconfig", "", "Kubeconfig of the API server (required unless --cleanup)")
	fs.BoolVar(&n.cleanup, "cleanup", false, cleanupHelp)
	fs.IntVarP(&n.verbosity, "v", "v", 0, "Log verbosity")
}

func (n *nodeComponentCommand) runE(cleanup func(ctx context.Context) error, build func(rc func() (*rest.Config, error), logger *slog.Logger) ([]component.Component, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		logger := newLogger(n.verbosity)
		if n.cleanup {
			return cleanup(cmd.Context())
		}
		rc, err := requiredKubeconfig(n.kubeconfigPath)
		if err != nil {
			return err
		}
		components, err := build(func() (*rest.Config, error) { return rc, nil }, logger)
		if err != nil {
			return err
		}
		return runUntilSignal(logger, components)
	}
}
