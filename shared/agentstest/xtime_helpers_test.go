package agentstest

import (
	"testing"

	"github.com/dealerai/integrations/shared/agents/xtime/xtimefake"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// fakeXTime is the connector's own fake XTime (package xtimefake), which checks the token
// grant, the headers of every call and the shapes of the booking, for the end-to-end tests.
type fakeXTime struct {
	*xtimefake.Server
	issuer *agenttest.Issuer
}

// The fake dealer's XTime services: the end-to-end events' service types name the first two.
var xtServices = []xtimefake.Service{
	{Opcode: "OIL", ServiceName: "Oil change"},
	{Opcode: "BRK", ServiceName: "Brakes"},
	{Opcode: "CC", ServiceName: "Customer concern"},
}

func newFakeXTime(t testing.TB, creds map[string]string) *fakeXTime {
	s := xtimefake.New(t, xtimefake.Config{ClientID: creds["clientId"], ClientSecret: creds["clientSecret"], APIKey: creds["apiKey"],
		DealerCode: "XT1", Services: xtServices})
	return &fakeXTime{Server: s, issuer: s.Issuer}
}

func (f *fakeXTime) settings() map[string]string {
	return map[string]string{"baseUrl": f.URL, "tokenUrl": f.URL + xtimefake.TokenPath, "dealerCode": "XT1",
		"timezone": "America/Chicago", "defaultOpcode": "CC"}
}
