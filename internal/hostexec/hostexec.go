// Package hostexec runs the commands node components program the kernel
// with (iptables-restore, nft), on this host or, in tests, elsewhere.
package hostexec

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
)

// Runner runs one command with stdin and returns its standard output; an
// error carries its standard error. Host runs commands here; tests pass
// one that runs them in a network namespace.
type Runner func(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)

// Host runs a command on this host.
func Host(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s: %w: %s", name, err, bytes.TrimSpace(errb.Bytes()))
	}
	return out.Bytes(), nil
}
