package storage

import (
	"context"
	"errors"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// EventType says what happened to a key.
type EventType int

const (
	// Put is a create or an update; Event.Created tells which.
	Put EventType = iota
	// Delete is a removal; Event.Prev holds the last value.
	Delete
	// Progress carries only a revision: every change up to it was sent.
	Progress
)

// Event is one change under a watched prefix.
type Event struct {
	Type     EventType
	Key      string
	Created  bool
	Value    []byte
	Prev     []byte // the value before this change; nil on create
	Revision int64
}

// Watch streams changes under prefix after revision after (0: from now).
// The channel closes when ctx ends or the watch fails; a failure is sent
// as the error on errc first (ErrCompacted when after is too old).
func (s *Store) Watch(ctx context.Context, prefix string, after int64) (<-chan Event, <-chan error) {
	out := make(chan Event, 100)
	errc := make(chan error, 1)
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithProgressNotify()}
	if after > 0 {
		opts = append(opts, clientv3.WithRev(after+1))
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	wch := s.client.Watch(wctx, prefix, opts...)
	go func() {
		defer close(out)
		defer cancel()
		for resp := range wch {
			if err := resp.Err(); err != nil {
				if errors.Is(err, rpctypes.ErrCompacted) || resp.CompactRevision != 0 {
					errc <- ErrCompacted
				} else {
					errc <- err
				}
				return
			}
			if resp.IsProgressNotify() {
				select {
				case out <- Event{Type: Progress, Revision: resp.Header.Revision}:
				case <-ctx.Done():
					return
				}
				continue
			}
			for _, ev := range resp.Events {
				e := Event{Key: string(ev.Kv.Key), Revision: ev.Kv.ModRevision}
				if ev.PrevKv != nil {
					e.Prev = ev.PrevKv.Value
				}
				if ev.Type == mvccpb.DELETE {
					e.Type = Delete
				} else {
					e.Type = Put
					e.Value = ev.Kv.Value
					e.Created = ev.IsCreate()
				}
				select {
				case out <- e:
				case <-ctx.Done():
					return
				}
			}
		}
		if ctx.Err() == nil {
			errc <- errors.New("storage: watch closed")
		}
	}()
	return out, errc
}
