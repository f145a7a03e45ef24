// Command receiver is a webhook endpoint for trying the local stack: it prints every delivery
// it gets, checks its signature when given the subscription's secret, and answers -status.
//
//	go run ./infra/local/cmd/receiver -addr 127.0.0.1:9000 -secret whsec_...
//	go run ./infra/local/cmd/receiver -addr 127.0.0.1:9001 -status 500   # a failing endpoint
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/dealerai/integrations/events/webhook"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	secret := flag.String("secret", "", "the subscription's signing secret (whsec_...), to verify signatures")
	status := flag.Int("status", http.StatusNoContent, "status to answer every delivery with")
	flag.Parse()

	var verifier *webhook.Verifier
	if *secret != "" {
		v, err := webhook.NewVerifier(*secret)
		if err != nil {
			log.Fatalf("secret: %v", err)
		}
		verifier = v
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, webhook.MaxBodyBytes))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		signature := "not checked (no -secret)"
		if verifier != nil {
			if err := verifier.Verify(r.Header, body); err != nil {
				signature = "INVALID: " + err.Error()
			} else {
				signature = "valid"
			}
		}
		fmt.Printf("%s %s %s attempt=%s delivery=%s webhook-id=%s signature %s\n%s\n\n",
			time.Now().Format(time.TimeOnly), r.Method, r.Header.Get(webhook.HeaderEventType),
			r.Header.Get(webhook.HeaderAttempt), r.Header.Get(webhook.HeaderDeliveryID),
			r.Header.Get(webhook.HeaderID), signature, body)
		w.WriteHeader(*status)
	})
	log.Printf("receiver listening on http://%s, answering %d", *addr, *status)
	server := &http.Server{Addr: *addr, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(server.ListenAndServe())
}
