// The standalone host page of the local stack: it plays the portal, handing the component
// the local API's URL and tokens that the page's server mints with the local stack's key for
// the dealer picked here. Tokens are kept in memory only.
import type { DealerAIIntegrations } from "../src/index.js";

interface Config {
  apiUrl: string;
}

const el = document.querySelector("dealerai-integrations") as DealerAIIntegrations;
const form = document.getElementById("dealer-form") as HTMLFormElement;
const dealerInput = document.getElementById("dealer") as HTMLInputElement;
const themeSelect = document.getElementById("theme") as HTMLSelectElement;
const status = document.getElementById("dealer-status") as HTMLOutputElement;

const params = new URLSearchParams(location.search);
dealerInput.value = params.get("dealer") || dealerInput.value;
themeSelect.value = params.get("theme") === "dark" ? "dark" : "light";

async function tokenFor(dealer: string): Promise<string> {
  const res = await fetch("/dev/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ dealer }),
  });
  if (!res.ok) throw new Error(await res.text());
  return ((await res.json()) as { token: string }).token;
}

/** A token source for dealer: one token, asked for again when it is near its expiry. */
function tokenSource(dealer: string) {
  let token: Promise<string> | null = null;
  let fetchedAt = 0;
  return () => {
    if (!token || Date.now() - fetchedAt > 50 * 60_000) {
      fetchedAt = Date.now();
      token = tokenFor(dealer).catch((e) => {
        token = null;
        throw e;
      });
    }
    return token;
  };
}

function signIn() {
  const dealer = dealerInput.value.trim() || "dlr_demo";
  el.theme = themeSelect.value;
  el.getToken = tokenSource(dealer);
  status.value = `Signed in as dealer ${dealer}.`;
  const url = new URL(location.href);
  url.searchParams.set("dealer", dealer);
  url.searchParams.set("theme", themeSelect.value);
  history.replaceState(null, "", url);
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  signIn();
});

const config = (await (await fetch("/dev/config")).json()) as Config;
const pageSize = Number(params.get("pageSize"));
if (pageSize > 0) el.pageSize = pageSize;
if (params.get("tab") === "subscriptions") el.initialTab = "subscriptions";
el.apiUrl = config.apiUrl;
signIn();
