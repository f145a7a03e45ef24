// Command sync is the sync Lambda: it takes the sync-jobs queue's ticks and jobs, reads the
// agents' platforms' changes and publishes them as inbound events (provided.al2023, arm64,
// binary bootstrap). It only wires: package app builds it.
package main

import "github.com/dealerai/integrations/shared/app"

func main() { app.Start("sync", app.NewSync) }
