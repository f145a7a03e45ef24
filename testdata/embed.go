// Package testdata embeds the repository's example payloads so that packages
// can ship them (e.g. the catalog examples used for test sends).
package testdata

import "embed"

// Events holds events/<type>.json: one example body per event type, plus
// extra examples named events/<type>.<variant>.json.
//
//go:embed events/*.json
var Events embed.FS
