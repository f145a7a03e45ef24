// <dealerai-integrations>: the Integrations page of DealerAI's portal, as a web component any
// host page can embed (docs/integrations-page.md).
//
//   <dealerai-integrations api-url="https://api.example.com"></dealerai-integrations>
//   element.getToken = () => portal.currentAccessToken();   // may return a promise
//
// Everything goes through the public REST API with the token the host supplies on each call;
// the component never stores a token. Every value the API returns is rendered as text.
import { LitElement, html, nothing, type PropertyValues } from "lit";
import { property, state } from "lit/decorators.js";
import { keyed } from "lit/directives/keyed.js";
import { Api, type EventType, type TokenSource } from "./api.js";
import "./agents.js";
import { ConfirmDialog, type Question } from "./confirm.js";
import "./confirm.js";
import { base, theme } from "./styles.js";
import { define, type Ctx, type View } from "./shared.js";
import "./subscriptions.js";

type Tab = "agents" | "subscriptions";

const tabs: { id: Tab; label: string }[] = [
  { id: "agents", label: "Integration agents" },
  { id: "subscriptions", label: "Event subscriptions" },
];

function tabOf(v: View): Tab {
  return v.name === "agents" || v.name === "agent" ? "agents" : "subscriptions";
}

export class DealerAIIntegrations extends LitElement {
  static override styles = [theme, base];

  /** The REST API's base URL, e.g. https://abc123.execute-api.us-east-1.amazonaws.com. */
  @property({ attribute: "api-url" }) apiUrl = "";
  /** The host's token callback: returns the portal user's JWT (or a promise of it). */
  @property({ attribute: false }) getToken?: TokenSource;
  /** "light" (default) or "dark"; the CSS custom properties refine either. */
  @property({ reflect: true }) theme = "light";
  /** The tab shown first: "agents" (default) or "subscriptions". */
  @property({ attribute: "initial-tab" }) initialTab: Tab = "agents";
  /** How many items one page of a list holds (1–100). */
  @property({ attribute: "page-size", type: Number }) pageSize = 20;

  @state() private view: View = { name: "agents" };
  @state() private liveMessage = "";

  private ctx?: Ctx;
  private catalog?: Promise<EventType[]>;
  private generation = 0;
  private moveFocus = false;

  private navigated = false;

  override willUpdate(changed: PropertyValues<this>) {
    if (changed.has("initialTab") && !this.navigated) {
      this.view = { name: this.initialTab === "subscriptions" ? "subscriptions" : "agents" };
    }
    if (changed.has("apiUrl") || changed.has("getToken") || changed.has("pageSize") || !this.ctx) {
      this.ctx = this.makeCtx();
      this.generation++; // a new dealer or API: every part reloads
    }
  }

  /** Reloads what the page shows (e.g. after the host switched user). */
  reload() {
    this.ctx = this.makeCtx();
    this.generation++;
    this.requestUpdate();
  }

  private makeCtx(): Ctx {
    const tokens = this.getToken;
    const api = new Api(this.apiUrl, () => (tokens ? tokens() : ""));
    this.catalog = undefined;
    return {
      api,
      pageSize: Math.min(100, Math.max(1, Math.floor(this.pageSize) || 20)),
      navigate: (view) => this.navigate(view),
      eventTypes: () => {
        this.catalog ??= api.get<{ items: EventType[] }>("/v1/event-types").then(
          (r) => r.data.items,
          (e) => {
            this.catalog = undefined;
            throw e;
          },
        );
        return this.catalog;
      },
      announce: (message) => {
        this.liveMessage = "";
        void this.updateComplete.then(() => (this.liveMessage = message));
      },
      confirm: (q: Question) => this.renderRoot.querySelector<ConfirmDialog>("dealerai-confirm")!.ask(q),
    };
  }

  private navigate(view: View) {
    this.navigated = true;
    this.view = view;
    this.moveFocus = true;
  }

  protected override async updated() {
    if (!this.moveFocus) return;
    this.moveFocus = false;
    // Focus the new view's heading, so keyboard and screen reader users land on it.
    const panel = this.renderRoot.querySelector<LitElement>("[data-view]");
    await panel?.updateComplete;
    panel?.querySelector<HTMLElement>("h2")?.focus();
  }

  private selectTab(tab: Tab, focus = false) {
    this.navigated = true;
    if (tabOf(this.view) !== tab) this.view = { name: tab };
    if (focus) void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`#tab-${tab}`)?.focus());
  }

  private tabKey(e: KeyboardEvent) {
    const i = tabs.findIndex((t) => t.id === tabOf(this.view));
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    this.selectTab(tabs[(to + tabs.length) % tabs.length].id, true);
  }

  override render() {
    if (!this.apiUrl || !this.getToken) {
      return html`<div class="notice error" role="alert">
        <p>The Integrations page is not configured: the host page must set the <code>api-url</code> attribute and the
          <code>getToken</code> property.</p>
      </div>`;
    }
    const current = tabOf(this.view);
    return html`
      <h1>Integrations</h1>
      <p class="lead">Connect DealerAI to the CRMs, automotive platforms and scheduling tools your dealership already uses, and
        send DealerAI events to your own systems.</p>
      <div role="tablist" aria-label="Integrations" @keydown=${this.tabKey}>
        ${tabs.map(
          (t) => html`<button type="button" role="tab" id=${"tab-" + t.id} aria-controls="panel" aria-selected=${t.id === current ? "true" : "false"}
            tabindex=${t.id === current ? "0" : "-1"} @click=${() => this.selectTab(t.id)}>${t.label}</button>`,
        )}
      </div>
      <div role="tabpanel" id="panel" aria-labelledby=${"tab-" + current}>
        ${keyed(`${this.generation}:${JSON.stringify(this.view)}`, this.renderView())}
      </div>
      <dealerai-confirm .ctx=${this.ctx!}></dealerai-confirm>
      <div class="sr-only" role="status" aria-live="polite">${this.liveMessage}</div>
    `;
  }

  private renderView() {
    const v = this.view;
    const ctx = this.ctx!;
    switch (v.name) {
      case "agents":
        return html`<dealerai-agent-list data-view .ctx=${ctx}></dealerai-agent-list>`;
      case "agent":
        return html`<dealerai-agent-detail data-view .ctx=${ctx} .platform=${v.platform}></dealerai-agent-detail>`;
      case "subscriptions":
        return html`<dealerai-subscription-list data-view .ctx=${ctx} .notice=${v.notice ?? ""}></dealerai-subscription-list>`;
      case "new-subscription":
        return html`<dealerai-subscription-form data-view .ctx=${ctx}></dealerai-subscription-form>`;
      case "edit-subscription":
        return html`<dealerai-subscription-form data-view .ctx=${ctx} .subId=${v.id}></dealerai-subscription-form>`;
      case "subscription":
        return html`<dealerai-subscription-detail data-view .ctx=${ctx} .subId=${v.id} .notice=${v.notice ?? ""}
          .createdSecret=${v.secret ?? ""}></dealerai-subscription-detail>`;
    }
    return nothing;
  }
}

define("dealerai-integrations", DealerAIIntegrations);

declare global {
  interface HTMLElementTagNameMap {
    "dealerai-integrations": DealerAIIntegrations;
  }
}
