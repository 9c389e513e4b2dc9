package main

import (
	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/bench"
)

func newBenchSchedulerCommand() *cobra.Command {
	var (
		cfg       bench.SchedulerConfig
		asJSON    bool
		verbosity int
	)
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Start a control plane and the scheduler in-process; measure pods bound per second and create-to-bound latency",
		Long: `Starts etcd, the API server and the scheduler in this process, as 'skiff
server' does (the scheduler a client over HTTPS with a certificate of its
own), creates --nodes Node objects (no kubelets), then --pods pods at once,
and reports pods bound per second from the first create to the last binding
the API server answered, and the per-pod latency from the start of its create
to that answer.
docs/benchmarks.md has the figures and the target.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if verbosity > 0 {
				cfg.Logger = newLogger(verbosity)
			}
			cfg.Progress = cmd.ErrOrStderr()
			ctx, cancel := signalContext()
			defer cancel()
			res, err := bench.RunScheduler(ctx, cfg)
			if err != nil {
				return err
			}
			return writeResults(cmd.OutOrStdout(), res, asJSON)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&cfg.Nodes, "nodes", 5000, "Node objects to create")
	fs.IntVar(&cfg.Pods, "pods", 10000, "Pods to create at once and have scheduled")
	fs.IntVar(&cfg.Writers, "writers", 16, "Concurrent pod creators")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "Directory for the control plane's data (default: a temporary directory, removed afterwards)")
	fs.DurationVar(&cfg.Timeout, "timeout", 0, "Limit on the wait for the last binding (default 5m)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "Write a CPU profile of the pod phase to this file (goroutines labelled skiff=server|scheduler|client)")
	fs.BoolVar(&asJSON, "json", false, "Print the results as JSON instead of a table")
	fs.IntVarP(&verbosity, "v", "v", 0, "Log the control plane's and the scheduler's logs at this verbosity (default: discarded)")
	return cmd
}
