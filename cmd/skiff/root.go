package main

import "github.com/spf13/cobra"

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "Skiff: the Kubernetes architecture in one small binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	return root
}
