package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/httpapi"
)

// sdkError is what an AWS SDK error says: the account, the role, the table.
const sdkError = "operation error DynamoDB: Query, https response error StatusCode: 400, RequestID: X, api error AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/DealerAI-api/fn is not authorized to perform: dynamodb:Query on resource: arn:aws:dynamodb:us-east-1:123456789012:table/DealerAI-DeliveryLog"

// brokenLog is the delivery log with List failing as DynamoDB does when the role lacks a grant.
type brokenLog struct{ httpapi.DeliveryLog }

func (brokenLog) List(context.Context, string, deliveryq.Target, string, int, string) ([]deliverylog.Record, string, error) {
	return nil, "", errors.New(sdkError)
}

// TestInternalErrorsAnswerAReference: our failure answers 500 "internal error (ref …)" without
// the SDK's words; the request's log line has the same ref and the detail.
func TestInternalErrorsAnswerAReference(t *testing.T) {
	at := newAPITest(t, func(o *httpapi.Options) { o.Deliveries = brokenLog{o.Deliveries} })
	tok := at.token("dlr_1")
	id := at.create("dlr_1", nil)["id"].(string)
	r := at.do("GET", "/v1/subscriptions/"+id+"/deliveries", tok, nil)
	p := r.problem(t, http.StatusInternalServerError)
	m := regexp.MustCompile(`^internal error \(ref ([0-9a-f]{12})\)$`).FindStringSubmatch(p.Detail)
	if m == nil || strings.Contains(string(r.body), "arn:aws") || strings.Contains(string(r.body), "123456789012") {
		t.Fatalf("answer %s, want internal error with a reference and nothing of the SDK error", r.body)
	}
	var line string
	for _, l := range strings.Split(at.logs.String(), "\n") {
		if strings.Contains(l, `"ref":"`+m[1]+`"`) {
			line = l
		}
	}
	if !strings.Contains(line, "AccessDeniedException") || !strings.Contains(line, `"status":500`) {
		t.Fatalf("no request log line with ref %s and the detail:\n%s", m[1], at.logs.String())
	}
}
