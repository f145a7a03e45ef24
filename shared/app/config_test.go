package app

import "testing"

// TestEndpointPolicy: the api and the delivery function check URLs with one policy read from
// the configuration's environment; without one, the secure defaults.
func TestEndpointPolicy(t *testing.T) {
	const plain = "http://hooks.example.com/dealerai"
	strict, err := Config{}.EndpointPolicy()
	if err != nil {
		t.Fatal(err)
	}
	if strict.CheckSyntax(plain) == nil {
		t.Errorf("no environment: %s accepted, want https only", plain)
	}
	env := map[string]string{"ALLOW_HTTP_ENDPOINTS": "true"}
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	lax, err := cfg.EndpointPolicy()
	if err != nil {
		t.Fatal(err)
	}
	if err := lax.CheckSyntax(plain); err != nil {
		t.Errorf("ALLOW_HTTP_ENDPOINTS=true: %s refused: %v", plain, err)
	}
	env["ALLOW_ENDPOINT_CIDRS"] = "not-a-cidr"
	if _, err := cfg.EndpointPolicy(); err == nil {
		t.Error("an invalid ALLOW_ENDPOINT_CIDRS was accepted")
	}
}
