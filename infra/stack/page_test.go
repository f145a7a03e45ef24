package stack

import (
	"strings"
	"testing"
)

func TestIntegrationsPageIsOffByDefault(t *testing.T) {
	s := defaultStack(t)
	for _, typ := range []string{"AWS::CloudFront::Distribution", "AWS::S3::Bucket", "Custom::CDKBucketDeployment"} {
		if ids := s.ofType(typ); len(ids) != 0 {
			t.Errorf("%s without the integrationsPage flag: %v", typ, ids)
		}
	}
}

func TestIntegrationsPagePublishesTheBundle(t *testing.T) {
	const portal = "https://portal.dealerai.example"
	s := synth(t, map[string]any{CtxIntegrationsPage: "true", CtxCORSOrigins: portal})

	// A private bucket, read only by the distribution through origin access control.
	bucket := s.logicalID(s.st.PageBucket)
	bp := props(s.resource[bucket])
	if block := asJSON(bp["PublicAccessBlockConfiguration"]); strings.Count(block, "true") != 4 {
		t.Errorf("public access block %s", block)
	}
	if logs := asJSON(bp["LoggingConfiguration"]); !strings.Contains(logs, "s3/") {
		t.Errorf("server access logs %s", logs)
	}
	var policy string
	for _, id := range s.ofType("AWS::S3::BucketPolicy") {
		if refTarget(props(s.resource[id])["Bucket"]) == bucket {
			policy = asJSON(props(s.resource[id])["PolicyDocument"])
		}
	}
	if !strings.Contains(policy, "cloudfront.amazonaws.com") || !strings.Contains(policy, "AWS:SourceArn") || !strings.Contains(policy, `"aws:SecureTransport":"false"`) {
		t.Errorf("bucket policy %s", policy)
	}
	if len(s.ofType("AWS::CloudFront::OriginAccessControl")) != 1 {
		t.Error("no origin access control")
	}

	// HTTPS only, the security headers and CORS for the portal on every response.
	dist := asJSON(props(s.resource[s.logicalID(s.st.PageDistribution)]))
	for _, want := range []string{`"ViewerProtocolPolicy":"https-only"`, `"Logging"`, `"OriginAccessControlId"`} {
		if !strings.Contains(dist, want) {
			t.Errorf("distribution lacks %s: %s", want, dist)
		}
	}
	ids := s.ofType("AWS::CloudFront::ResponseHeadersPolicy")
	if len(ids) != 1 {
		t.Fatalf("response headers policies %v", ids)
	}
	headers := asJSON(props(s.resource[ids[0]]))
	for _, want := range []string{pageCSP, `"ContentTypeOptions":{"Override":true}`, `"FrameOption":"DENY"`, `"AccessControlMaxAgeSec":63072000`,
		`"Items":["` + portal + `"]`, "Cross-Origin-Resource-Policy"} {
		if !strings.Contains(headers, want) {
			t.Errorf("response headers lack %s: %s", want, headers)
		}
	}

	// The bundle under its immutable versioned path; earlier versions are kept.
	path := PagePath([]byte(placeholderBundle))
	deployments := s.ofType("Custom::CDKBucketDeployment")
	if len(deployments) != 1 {
		t.Fatalf("deployments %v", deployments)
	}
	d := asJSON(props(s.resource[deployments[0]]))
	for _, want := range []string{`"DestinationBucketKeyPrefix":"` + strings.TrimSuffix(path, PageBundle) + `"`, "immutable", `"Prune":false`} {
		if !strings.Contains(d, want) {
			t.Errorf("deployment lacks %s: %s", want, d)
		}
	}
	if out := asJSON(s.json["Outputs"]); !strings.Contains(out, path) {
		t.Errorf("outputs %s", out)
	}

	// The API answers CORS for the portal, which calls it from the page.
	for _, id := range s.ofType("AWS::ApiGatewayV2::Api") {
		cors := asJSON(props(s.resource[id])["CorsConfiguration"])
		if !strings.Contains(cors, portal) || !strings.Contains(cors, "if-match") || !strings.Contains(cors, "etag") {
			t.Errorf("API CORS %s", cors)
		}
	}
}

func TestPagePathChangesWithTheBundle(t *testing.T) {
	a, b := PagePath([]byte("v1")), PagePath([]byte("v2"))
	if a == b || !strings.HasPrefix(a, "integrations/") || !strings.HasSuffix(a, "/"+PageBundle) || a != PagePath([]byte("v1")) {
		t.Errorf("paths %q %q", a, b)
	}
}
