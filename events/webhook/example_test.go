package webhook_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/dealerai/integrations/events/webhook"
)

// A receiver wraps its endpoint with the Verifier's middleware: requests
// that are not signed by DealerAI get 401 and never reach the handler.
func Example() {
	// The subscription's secret, from POST /v1/subscriptions or
	// GET /v1/subscriptions/{id}/secret. During a rotation, pass both.
	v, err := webhook.NewVerifier(os.Getenv("DEALERAI_WEBHOOK_SECRET"))
	if err != nil {
		log.Fatal(err)
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var event struct {
			EventType string `json:"eventType"`
			EventID   string `json:"eventId"`
			DealerID  string `json:"dealerId"`
		}
		if err := json.NewDecoder(r.Body).Decode(&event); err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		// webhook-id is the event id, the same on every retry: use it to
		// ignore a duplicate.
		log.Printf("%s %s (attempt %s)", event.EventType, r.Header.Get(webhook.HeaderID), r.Header.Get(webhook.HeaderAttempt))
		w.WriteHeader(http.StatusNoContent) // any 2xx: delivered
	})

	http.Handle("POST /webhooks/dealerai", v.Middleware(handler))
	log.Fatal(http.ListenAndServe(":8443", nil))
}

// Verify works without the middleware, for instance in a serverless
// function that already has the headers and the raw body.
func ExampleVerifier_Verify() {
	// The example request published with the Standard Webhooks specification.
	v, err := webhook.NewVerifier("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		log.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	body := []byte(`{"test": 2432232314}`)

	// It was signed in 2021, so today it is refused as a possible replay.
	err = v.Verify(h, body)
	fmt.Println("today:", errors.Is(err, webhook.ErrTimestampTooOld))

	// Widening the tolerance (only to replay this old sample) shows the
	// signature itself is valid, and that any change to the body is caught.
	v.Tolerance = time.Since(time.Unix(1614265330, 0)) + time.Hour
	fmt.Println("replayed:", v.Verify(h, body))
	fmt.Println("tampered:", v.Verify(h, []byte(`{"test": 1}`)))
	// Output:
	// today: true
	// replayed: <nil>
	// tampered: webhook: no matching signature
}
