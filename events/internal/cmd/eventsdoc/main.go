// Command eventsdoc writes docs/events.md from the event catalog (go generate ./events).
//
//	go run ./internal/cmd/eventsdoc ../docs/events.md
package main

import (
	"fmt"
	"os"

	"github.com/dealerai/integrations/events/internal/eventsdoc"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: eventsdoc OUTPUT.md")
		os.Exit(2)
	}
	page, err := eventsdoc.Render()
	if err == nil {
		err = os.WriteFile(os.Args[1], page, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "eventsdoc:", err)
		os.Exit(1)
	}
}
