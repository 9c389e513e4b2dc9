package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/bench"
)

func newBenchUpCommand() *cobra.Command {
	var (
		cfg    bench.UpConfig
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "up [-- SKIFF-UP-FLAGS...]",
		Short: "Measure skiff up: time to a Ready node and Running kube-system pods, idle RSS, binary size; fresh and resumed",
		Long: `Starts this binary as 'skiff up' on a fresh data dir and free ports, and
measures the time from exec to the node Ready and every kube-system pod Running
and Ready (polled with client-go), then, after --settle, the RSS of the skiff
process (containerd and its shims counted apart). It stops it with SIGINT and
does the same again on the same data dir (the resume). Flags after -- go to
'skiff up' (e.g. -- --cni-bridge skiffb0 --cluster-cidr 10.245.0.0/16 to keep
a real node away from your own cluster). docs/benchmarks.md has the figures.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				exe = os.Args[0]
			}
			cfg.Binary, cfg.ExtraArgs, cfg.Progress = exe, args, cmd.ErrOrStderr()
			ctx, cancel := signalContext()
			defer cancel()
			res, err := bench.RunUp(ctx, cfg)
			if err != nil {
				return err
			}
			return writeResults(cmd.OutOrStdout(), res, asJSON)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.Runtime, "runtime", runtimeSimulated, "skiff up --runtime: simulated, or containerd (a real node; needs root)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "Data dir of both runs (default: a temporary directory, removed afterwards)")
	fs.DurationVar(&cfg.Settle, "settle", 0, "How long the cluster idles before its RSS is read (default 30s)")
	fs.DurationVar(&cfg.Timeout, "timeout", 0, "Limit on each run's wait for the cluster (default 2m)")
	fs.BoolVar(&asJSON, "json", false, "Print the results as JSON instead of a table")
	return cmd
}
