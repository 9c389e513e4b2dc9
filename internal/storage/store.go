// Package storage keeps API objects in etcd. It knows keys, bytes and
// revisions, not Kubernetes types: the API server encodes objects, this
// package stores them with optimistic concurrency and watches them.
//
// Layout: /registry/<resource>/<namespace>/<name> for namespaced objects and
// /registry/<resource>/<name> for cluster-scoped ones. An object's
// resourceVersion is the etcd revision that last modified it; a list's is the
// revision it was read at. Values are JSON, so `etcdctl get` shows them as
// they are.
package storage

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors the API server maps onto Status reasons.
var (
	ErrNotFound  = errors.New("storage: not found")
	ErrExists    = errors.New("storage: already exists")
	ErrConflict  = errors.New("storage: revision conflict")
	ErrCompacted = errors.New("storage: revision compacted")
	// ErrClaimed means a claim key (an allocated IP or port) is taken.
	ErrClaimed = errors.New("storage: claim taken")
)

// Object is one stored value and the revision that last wrote it.
type Object struct {
	Key      string
	Value    []byte
	Revision int64
}

// Store reads and writes objects in etcd.
type Store struct {
	client *clientv3.Client
}

// New returns a store over an etcd client. The client stays the caller's.
func New(client *clientv3.Client) *Store { return &Store{client: client} }

// Client is the underlying etcd client.
func (s *Store) Client() *clientv3.Client { return s.client }

// Get reads key at the latest revision.
func (s *Store) Get(ctx context.Context, key string) (Object, error) {
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return Object{}, fmt.Errorf("storage: get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return Object{}, ErrNotFound
	}
	kv := resp.Kvs[0]
	return Object{Key: key, Value: kv.Value, Revision: kv.ModRevision}, nil
}

// ListOptions selects a page of keys under a prefix.
type ListOptions struct {
	// Prefix is the key prefix, ending in "/".
	Prefix string
	// StartKey, when set, is the first key to return (for continue tokens).
	StartKey string
	// Revision reads at that revision; 0 reads the latest.
	Revision int64
	// Limit caps the number of items; 0 means all.
	Limit int64
}

// ListResult is one page of a list.
type ListResult struct {
	Items []Object
	// Revision is the revision the page was read at.
	Revision int64
	// More is true when keys remain after the last item.
	More bool
	// Remaining counts the keys after the last item.
	Remaining int64
}

// List reads a page of keys under a prefix in key order, at one revision.
// A revision older than the compacted one fails with ErrCompacted.
func (s *Store) List(ctx context.Context, o ListOptions) (ListResult, error) {
	start := o.Prefix
	if o.StartKey != "" {
		start = o.StartKey
	}
	opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(o.Prefix))}
	if o.Revision > 0 {
		opts = append(opts, clientv3.WithRev(o.Revision))
	}
	if o.Limit > 0 {
		opts = append(opts, clientv3.WithLimit(o.Limit))
	}
	resp, err := s.client.Get(ctx, start, opts...)
	if err != nil {
		if errors.Is(err, rpctypes.ErrCompacted) {
			return ListResult{}, ErrCompacted
		}
		return ListResult{}, fmt.Errorf("storage: list %s: %w", o.Prefix, err)
	}
	res := ListResult{Items: make([]Object, len(resp.Kvs)), Revision: resp.Header.Revision, More: resp.More}
	if o.Revision > 0 {
		res.Revision = o.Revision
	}
	for i, kv := range resp.Kvs {
		res.Items[i] = Object{Key: string(kv.Key), Value: kv.Value, Revision: kv.ModRevision}
	}
	if resp.More {
		res.Remaining = resp.Count - int64(len(resp.Kvs))
	}
	return res, nil
}

// Count returns how many keys are under prefix.
func (s *Store) Count(ctx context.Context, prefix string) (int64, error) {
	resp, err := s.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("storage: count %s: %w", prefix, err)
	}
	return resp.Count, nil
}

// Create writes key only if it does not exist, together with claim keys that
// must not exist either (allocated IPs and ports; each claim's value names
// key). It returns the new revision.
func (s *Store) Create(ctx context.Context, key string, value []byte, claims ...string) (int64, error) {
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)}
	ops := []clientv3.Op{clientv3.OpPut(key, string(value))}
	for _, c := range claims {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(c), "=", 0))
		ops = append(ops, clientv3.OpPut(c, key))
	}
	resp, err := s.client.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return 0, fmt.Errorf("storage: create %s: %w", key, err)
	}
	if !resp.Succeeded {
		if len(claims) > 0 {
			if _, err := s.Get(ctx, key); errors.Is(err, ErrNotFound) {
				return 0, ErrClaimed
			}
		}
		return 0, ErrExists
	}
	return resp.Header.Revision, nil
}

// Update replaces key if its revision is still expect. It can take new claims
// and release old ones in the same transaction. On a lost race it returns
// ErrConflict; if the key is gone, ErrNotFound.
func (s *Store) Update(ctx context.Context, key string, value []byte, expect int64, claim, release []string) (int64, error) {
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", expect)}
	ops := []clientv3.Op{clientv3.OpPut(key, string(value))}
	for _, c := range claim {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(c), "=", 0))
		ops = append(ops, clientv3.OpPut(c, key))
	}
	for _, r := range release {
		ops = append(ops, clientv3.OpDelete(r))
	}
	resp, err := s.client.Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return 0, fmt.Errorf("storage: update %s: %w", key, err)
	}
	if !resp.Succeeded {
		got := resp.Responses[0].GetResponseRange()
		if got == nil || len(got.Kvs) == 0 {
			return 0, ErrNotFound
		}
		if got.Kvs[0].ModRevision == expect {
			return 0, ErrClaimed
		}
		return 0, ErrConflict
	}
	return resp.Header.Revision, nil
}

// Delete removes key if its revision is still expect, releasing claims with
// it. It returns the revision of the deletion.
func (s *Store) Delete(ctx context.Context, key string, expect int64, release ...string) (int64, error) {
	ops := []clientv3.Op{clientv3.OpDelete(key)}
	for _, r := range release {
		ops = append(ops, clientv3.OpDelete(r))
	}
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", expect)).
		Then(ops...).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return 0, fmt.Errorf("storage: delete %s: %w", key, err)
	}
	if !resp.Succeeded {
		got := resp.Responses[0].GetResponseRange()
		if got == nil || len(got.Kvs) == 0 {
			return 0, ErrNotFound
		}
		return 0, ErrConflict
	}
	return resp.Header.Revision, nil
}

// Keys lists the keys (no values) under prefix.
func (s *Store) Keys(ctx context.Context, prefix string) ([]string, error) {
	resp, err := s.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("storage: keys %s: %w", prefix, err)
	}
	keys := make([]string, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		keys[i] = string(kv.Key)
	}
	return keys, nil
}

// Revision returns the store's current revision.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	resp, err := s.client.Get(ctx, "/registry/", clientv3.WithCountOnly(), clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("storage: revision: %w", err)
	}
	return resp.Header.Revision, nil
}

func isCompacted(err error) bool { return errors.Is(err, rpctypes.ErrCompacted) }
