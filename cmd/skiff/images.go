package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/skiff-sh/skiff/internal/containerd"
)

// Data dirs `skiff images` looks in when given neither --data-dir nor
// --address: `skiff up`'s default, then `skiff server`'s.
var imagesDefaultDataDirs = []string{".skiff", "/var/lib/skiff"}

type imagesFlags struct{ dataDir, address string }

func (f *imagesFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.dataDir, "data-dir", "", "Skiff data directory whose containerd to use (its socket is DIR/containerd/containerd.sock; default .skiff, else /var/lib/skiff)")
	fs.StringVar(&f.address, "address", "", "containerd socket to use instead (e.g. /run/containerd/containerd.sock)")
}

// socket is the containerd socket the flags name.
func (f *imagesFlags) socket() (string, error) {
	if f.address != "" && f.dataDir != "" {
		return "", errors.New("give --data-dir or --address, not both")
	}
	if f.address != "" {
		return f.address, nil
	}
	if f.dataDir != "" {
		return containerd.SocketPath(filepath.Join(f.dataDir, "containerd")), nil
	}
	for _, d := range imagesDefaultDataDirs {
		s := containerd.SocketPath(filepath.Join(d, "containerd"))
		if _, err := os.Stat(s); err == nil {
			return s, nil
		}
	}
	return "", fmt.Errorf("%w: no socket under %v; pass --data-dir or --address", containerd.ErrNotRunning, imagesDefaultDataDirs)
}

func newImagesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Load and list the images of a node's containerd",
	}
	cmd.AddCommand(newImagesImportCommand(), newImagesListCommand())
	return cmd
}

func newImagesImportCommand() *cobra.Command {
	var f imagesFlags
	cmd := &cobra.Command{
		Use:   "import FILE.tar...",
		Short: "Import docker-archive (docker save) or OCI-layout tars into the node's containerd, as kind load image-archive does",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			socket, err := f.socket()
			if err != nil {
				return err
			}
			for _, path := range args {
				file, err := os.Open(path)
				if err != nil {
					return err
				}
				names, err := containerd.ImportImages(cmd.Context(), socket, file)
				file.Close()
				if errors.Is(err, containerd.ErrNotRunning) {
					return err
				}
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				for _, n := range names {
					fmt.Fprintf(cmd.OutOrStdout(), "imported %s from %s\n", n, path)
				}
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func newImagesListCommand() *cobra.Command {
	var f imagesFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the images of the node's containerd (namespace k8s.io; without the CRI's sha256:<id> aliases)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			socket, err := f.socket()
			if err != nil {
				return err
			}
			imgs, err := containerd.ListImages(cmd.Context(), socket)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "IMAGE\tDIGEST\tSIZE")
			for _, img := range imgs {
				if strings.HasPrefix(img.Name, "sha256:") {
					continue
				}
				fmt.Fprintf(w, "%s\t%s\t%d\n", img.Name, img.Digest, img.Size)
			}
			return w.Flush()
		},
	}
	f.register(cmd.Flags())
	return cmd
}
