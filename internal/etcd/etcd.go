// Package etcd runs an embedded single-member etcd server, the default
// storage of a Skiff control plane. The API server reaches it in-process
// (no network hop); etcdctl and other tools reach it on the client URL.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
)

// Config configures an embedded etcd member.
type Config struct {
	// DataDir holds the member's WAL and snapshots; created if absent.
	DataDir string
	// ClientURL is where etcd serves clients; default http://127.0.0.1:2379.
	ClientURL string
	// PeerURL is where etcd listens for peers; default http://127.0.0.1:2380.
	PeerURL string
	// ProgressNotifyInterval is how often idle watches learn the current
	// revision (the API server turns these into watch bookmarks); default 5s.
	ProgressNotifyInterval time.Duration
	// UnsafeNoFsync trades durability for speed; only for throwaway clusters.
	UnsafeNoFsync bool
	// Logger receives etcd's own logs at warn level and above, with
	// component=etcd.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.DataDir == "" {
		return errors.New("etcd: DataDir is required")
	}
	if c.ClientURL == "" {
		c.ClientURL = "http://127.0.0.1:2379"
	}
	if c.PeerURL == "" {
		c.PeerURL = "http://127.0.0.1:2380"
	}
	if c.ProgressNotifyInterval == 0 {
		c.ProgressNotifyInterval = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Server is a running embedded etcd member.
type Server struct {
	cfg    Config
	etcd   *embed.Etcd
	client *clientv3.Client
}

// Start starts the member and waits until it serves. Stop it with Close.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	clientURL, err := url.Parse(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("etcd: client URL: %w", err)
	}
	peerURL, err := url.Parse(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("etcd: peer URL: %w", err)
	}
	dir := filepath.Join(cfg.DataDir, "etcd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	ec := embed.NewConfig()
	ec.Name = "skiff"
	ec.Dir = dir
	ec.ListenClientUrls = []url.URL{*clientURL}
	ec.AdvertiseClientUrls = []url.URL{*clientURL}
	ec.ListenPeerUrls = []url.URL{*peerURL}
	ec.AdvertisePeerUrls = []url.URL{*peerURL}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	ec.LogLevel = "warn"
	// etcd's warnings and errors go to our logger, in our format, with
	// component=etcd (so to etcd's pod log too); its info-level chatter
	// stays off.
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newZapLogger(cfg.Logger.With("component", "etcd")))
	ec.WatchProgressNotifyInterval = cfg.ProgressNotifyInterval
	ec.UnsafeNoFsync = cfg.UnsafeNoFsync
	// The API server compacts history itself (see storage.Compactor), as upstream does.
	ec.AutoCompactionRetention = "0"
	ec.QuotaBackendBytes = 8 << 30
	ec.SnapshotCount = 10000
	// No metrics listener, no pprof: the API server exposes what matters.
	ec.Metrics = "basic"

	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("etcd: start: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, errors.New("etcd: not ready after 60s")
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	cfg.Logger.Info("etcd ready", "component", "etcd", "dataDir", dir, "clientURL", cfg.ClientURL)
	return &Server{cfg: cfg, etcd: e, client: v3client.New(e.Server)}, nil
}

// Client is an in-process client of this member.
func (s *Server) Client() *clientv3.Client { return s.client }

// Err reports a fatal error of the running member.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// Close stops the member; acknowledged writes are on disk.
func (s *Server) Close() {
	s.client.Close()
	s.etcd.Close()
}
