package httpapi

import (
	"context"
	"time"

	"github.com/dealerai/integrations/shared/circuit"
	"github.com/dealerai/integrations/shared/deliveryq"
)

// CircuitStore reads targets' circuit breakers; *circuit.Store is one.
type CircuitStore interface {
	Get(ctx context.Context, dealerID string, t deliveryq.Target) (circuit.State, error)
}

// circuitView is a target's circuit breaker as the API shows it.
type circuitView struct {
	State     string     `json:"state"`
	Failures  int        `json:"failures"`
	OpenedAt  *time.Time `json:"openedAt"`
	ClosedAt  *time.Time `json:"closedAt"`
	RetryAt   *time.Time `json:"retryAt"`
	LastError *string    `json:"lastError"`
}

// circuitOf reads a target's circuit; nil without a CircuitStore.
func (a *API) circuitOf(ctx context.Context, dealerID string, t deliveryq.Target) (*circuitView, error) {
	if a.opts.Circuits == nil {
		return nil, nil
	}
	st, err := a.opts.Circuits.Get(ctx, dealerID, t)
	if err != nil {
		return nil, err
	}
	v := &circuitView{State: st.State, Failures: st.Failures, OpenedAt: st.OpenedAt, ClosedAt: st.ClosedAt}
	if v.State == "" {
		v.State = circuit.Closed
	}
	if v.State != circuit.Closed {
		v.RetryAt = st.RetryAt
		if st.LastError != "" {
			v.LastError = &st.LastError
		}
	}
	return v, nil
}
