// Command delivery is the delivery Lambda: one signed attempt per message of the deliveries queue
// (provided.al2023, arm64, binary bootstrap). It only wires: package app builds it.
package main

import "github.com/dealerai/integrations/shared/app"

func main() { app.Start("delivery", app.NewDelivery) }
