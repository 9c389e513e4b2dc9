package main

import (
	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/bench"
	"github.com/skiff-sh/skiff/internal/containerd"
)

func newBenchPodsCommand() *cobra.Command {
	var (
		cfg            bench.PodStartupConfig
		kubeconfigPath string
		asJSON         bool
	)
	cmd := &cobra.Command{
		Use:   "pods",
		Short: "Measure pod startup on a running cluster: create-to-Running latency through a watch",
		Long: `Creates --pods pods at once on the cluster of --kubeconfig (Skiff or any other),
watches them, and reports, per pod, the time from the start of its create to
the watch event that shows it Running (upstream's pod startup SLI); then it
deletes them. The image should already be on the nodes: the default is the
pause image every Skiff node imports at start.
docs/benchmarks.md has the figures and the target.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rc, err := requiredKubeconfig(kubeconfigPath)
			if err != nil {
				return err
			}
			cfg.RESTConfig = rc
			cfg.Progress = cmd.ErrOrStderr()
			ctx, cancel := signalContext()
			defer cancel()
			res, err := bench.RunPodStartup(ctx, cfg)
			if err != nil {
				return err
			}
			return writeResults(cmd.OutOrStdout(), res, asJSON)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&kubeconfigPath, "kubeconfig", "", "Kubeconfig of the cluster under test (required)")
	fs.IntVar(&cfg.Pods, "pods", 30, "Pods to create at once")
	fs.StringVar(&cfg.Image, "image", containerd.PauseImage, "Image of the pods (should be present on the nodes)")
	fs.StringSliceVar(&cfg.Command, "command", nil, "Command of the pods' container (default: the image's)")
	fs.StringVar(&cfg.Namespace, "namespace", "default", "Namespace of the pods")
	fs.StringVar(&cfg.NodeName, "node", "", "Pin the pods to this node (default: the scheduler places them)")
	fs.DurationVar(&cfg.Timeout, "timeout", 0, "Limit on the wait for the last pod (default 2m)")
	fs.BoolVar(&asJSON, "json", false, "Print the results as JSON instead of a table")
	return cmd
}
