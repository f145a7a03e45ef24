// Package registry lists the platforms DealerAI connects dealers to. Each is one package
// under shared/agents that exports its platform.Platform; adding a platform is that package
// and one line here (docs/agents.md#adding-a-platform). The composition root (shared/app)
// hands the list to the API and to the Dispatcher; nothing else imports this package.
package registry

import (
	"github.com/dealerai/integrations/shared/agents/dealersocket"
	"github.com/dealerai/integrations/shared/agents/fortellis"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agents/vinsolutions"
	"github.com/dealerai/integrations/shared/agents/xtime"
)

// Platforms returns every platform, in the API's order.
func Platforms() platform.Catalog {
	return platform.Catalog{
		vinsolutions.Platform,
		dealersocket.Platform,
		fortellis.Platform,
		xtime.Platform,
	}
}
