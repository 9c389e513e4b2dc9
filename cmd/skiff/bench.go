package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/bench"
)

func newBenchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Skiff",
	}
	cmd.AddCommand(newBenchAPICommand(), newBenchSchedulerCommand(), newBenchPodsCommand(), newBenchUpCommand())
	return cmd
}

func newBenchAPICommand() *cobra.Command {
	var (
		cfg                   bench.Config
		asJSON, noChildren    bool
		cpuProfile, verbosity = "", 0
	)
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Start a control plane in-process and measure etcd puts, pod creates, GET, LIST, watch fan-out and idle memory",
		Long: `Starts etcd and the API server in this process, wired as 'skiff apiserver'
wires them (the storage and API server of 'skiff server'), on
free ports and a temporary data dir (unless --data-dir), and measures:
raw etcd puts/s, pod creates/s through client-go, GET p50/p99, LIST of all
pods in JSON and protobuf, watchers receiving every update, and the idle RSS
of this process and of child processes: 'skiff apiserver' restarted on the
bench's data and fresh, and a fresh 'skiff server'. docs/benchmarks.md has the
figures and the targets.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cpuProfile != "" && cfg.CPUProfileDir != "" {
				return errors.New("--cpuprofile and --cpuprofile-dir cannot be used together")
			}
			if !noChildren {
				exe, err := os.Executable()
				if err != nil {
					exe = os.Args[0]
				}
				cfg.ServerBinary = exe
			}
			if cfg.Watchers == 0 {
				cfg.Watchers = -1 // the flag's 0 means none; the Config's means the default
			}
			if verbosity > 0 {
				cfg.Logger = newLogger(verbosity)
			}
			cfg.Progress = cmd.ErrOrStderr()
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
			}
			ctx, cancel := signalContext()
			defer cancel()
			res, err := bench.Run(ctx, cfg)
			if cpuProfile != "" {
				pprof.StopCPUProfile()
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := writeResults(out, res, asJSON); err != nil || asJSON {
				return err
			}
			if cpuProfile != "" {
				fmt.Fprintf(out, "\nCPU profile in %s; server side only: go tool pprof -tagfocus skiff=server %s\n", cpuProfile, cpuProfile)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.DataDir, "data-dir", "", "Directory for the control plane's data (default: a temporary directory, removed afterwards)")
	fs.IntVar(&cfg.Writers, "writers", 16, "Concurrent writers for raw etcd puts, pod creates and updates")
	fs.IntVar(&cfg.Pods, "pods", 10000, "Pods to create, then GET and LIST")
	fs.IntVar(&cfg.RawPuts, "raw-puts", 0, "Raw etcd puts, and raw create transactions, per raw round (default: --pods)")
	fs.IntVar(&cfg.RawRounds, "raw-rounds", 3, "Rounds of raw etcd puts and transactions (the median round is reported)")
	fs.IntVar(&cfg.Gets, "gets", 5000, "GETs per GET run")
	fs.IntVar(&cfg.GetConcurrency, "get-concurrency", 16, "Concurrent clients in the concurrent GET run")
	fs.IntVar(&cfg.ListRuns, "list-runs", 5, "Full LISTs timed per encoding (the median is reported)")
	fs.IntVar(&cfg.Watchers, "watchers", 100, "Watchers of the pods resource (0 skips the watch phase)")
	fs.IntVar(&cfg.Events, "events", 10000, "Pod updates every watcher must receive")
	fs.DurationVar(&cfg.WatchTimeout, "watch-timeout", 0, "Limit on the watch phase (default 5m)")
	fs.BoolVar(&cfg.SharedConnection, "shared-connection", false, "All clients share one HTTP/2 connection (default: one connection per client)")
	fs.BoolVar(&noChildren, "no-child-servers", false, "Skip the idle RSS of child processes ('skiff apiserver' on the bench's data and fresh, 'skiff server' fresh)")
	fs.BoolVar(&asJSON, "json", false, "Print the results as JSON instead of a table")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "Write a CPU profile of the whole run (client and server, labelled skiff=client|server) to this file")
	fs.StringVar(&cfg.CPUProfileDir, "cpuprofile-dir", "", "Write one CPU profile per phase into this directory")
	fs.IntVarP(&verbosity, "v", "v", 0, "Log the control plane's logs at this verbosity (default: discarded)")
	return cmd
}

// tableWriter is a benchmark's results, printable for a person.
type tableWriter interface{ WriteTable(io.Writer) error }

// writeResults prints a benchmark's results as indented JSON or as its
// table.
func writeResults(w io.Writer, res tableWriter, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return res.WriteTable(w)
}
