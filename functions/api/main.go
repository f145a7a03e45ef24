// Command api is the api Lambda: the REST API (package httpapi) behind API Gateway's HTTP API
// (provided.al2023, arm64, binary bootstrap). It only wires: package app builds it.
package main

import "github.com/dealerai/integrations/shared/app"

func main() { app.Start("api", app.NewAPI) }
