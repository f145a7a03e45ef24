// Command router is the router Lambda: it validates the events of the events queue and enqueues one delivery per matching target
// (provided.al2023, arm64, binary bootstrap). It only wires: package app builds it.
package main

import "github.com/dealerai/integrations/shared/app"

func main() { app.Start("router", app.NewRouter) }
