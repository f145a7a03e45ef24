import { html, nothing } from "lit";
import { property, state } from "lit/decorators.js";
import { ApiError, apiError, messageOf, type EventType, type Page, type Secret, type Subscription } from "./api.js";
import type { DeliveryLog } from "./deliveries.js";
import "./deliveries.js";
import { groupName, groups } from "./picker.js";
import "./picker.js";
import { Panel, circuitState, define, errorSummary, fieldError, fmtTime, focusFirstProblem, loadError, loading, statusBadge } from "./shared.js";

/** Whether filter (an exact type, a prefix wildcard such as "lead.*", or "*") matches type. */
export function matches(filter: string, type: string): boolean {
  if (filter === "*") return true;
  if (filter.endsWith(".*")) return type.startsWith(filter.slice(0, -1));
  return filter === type;
}

const path = (id: string) => `/v1/subscriptions/${encodeURIComponent(id)}`;

function chips(events: string[], max = 4) {
  const shown = events.slice(0, max);
  return html`<ul class="chips">${shown.map((e) => html`<li><code>${e}</code></li>`)}${events.length > max
    ? html`<li class="small muted">+${events.length - max} more</li>`
    : nothing}</ul>`;
}

/** The dealer's event subscriptions (webhooks), a page at a time. */
export class SubscriptionList extends Panel {
  @property() notice = "";
  @state() private items: Subscription[] = [];
  @state() private next: string | null = null;
  @state() private loaded = false;
  @state() private busy = false;
  @state() private error: unknown = null;

  protected override async load(cursor?: string) {
    this.busy = true;
    this.error = null;
    try {
      const { data } = await this.ctx.api.get<Page<Subscription>>("/v1/subscriptions", { limit: this.ctx.pageSize, cursor });
      this.items = cursor ? [...this.items, ...data.items] : data.items;
      this.next = data.nextCursor;
    } catch (e) {
      this.error = e;
    } finally {
      this.busy = false;
      this.loaded = true;
    }
  }

  override render() {
    const create = () => this.ctx.navigate({ name: "new-subscription" });
    return html`
      <div class="toolbar">
        <h2 tabindex="-1">Event subscriptions</h2>
        <button type="button" class="primary" @click=${create}>New subscription</button>
      </div>
      <p class="lead">Webhooks that notify your own systems when something happens in DealerAI. Endpoints must be HTTPS and
        publicly accessible; a failed delivery is retried up to three times before it is marked as failed.</p>
      ${this.notice ? html`<div class="notice success" role="status">${this.notice}</div>` : nothing}
      ${this.error ? loadError(this.error, () => this.load()) : nothing}
      ${!this.loaded ? loading("event subscriptions") : nothing}
      ${this.loaded && !this.error && this.items.length === 0
        ? html`<div class="card empty">
            <h3>No event subscriptions yet</h3>
            <p>Create one to receive DealerAI events — new leads, appointments, conversations — at your HTTPS endpoint.</p>
            <button type="button" class="primary" @click=${create}>Create your first subscription</button>
          </div>`
        : nothing}
      ${this.items.length
        ? html`<div class="table-wrap card"><table aria-label="Event subscriptions">
            <thead><tr><th scope="col">Endpoint</th><th scope="col">Events</th><th scope="col">Status</th><th scope="col">Created</th>
              <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>${this.items.map(
              (s) => html`<tr data-subscription=${s.id}>
                <td class="url"><code>${s.url}</code>${s.description ? html`<div class="small muted">${s.description}</div>` : nothing}</td>
                <td>${chips(s.events)}</td>
                <td>${statusBadge(s.status)}${s.disabledReason ? html`<div class="small muted">${s.disabledReason}</div>` : nothing}</td>
                <td>${fmtTime(s.createdAt)}</td>
                <td><button type="button" @click=${() => this.ctx.navigate({ name: "subscription", id: s.id })}>Open<span class="sr-only"> ${s.url}</span></button></td>
              </tr>`,
            )}</tbody>
          </table></div>`
        : nothing}
      ${this.next ? html`<p><button type="button" @click=${() => this.load(this.next!)} ?disabled=${this.busy}>Load more subscriptions</button></p>` : nothing}
    `;
  }
}
define("dealerai-subscription-list", SubscriptionList);

/** Creates a subscription, or edits one (subId set). */
export class SubscriptionForm extends Panel {
  @property() subId = "";

  @state() private types: EventType[] | null = null;
  @state() private url = "";
  @state() private description = "";
  @state() private events: string[] = [];
  @state() private enabled = true;
  @state() private etag: string | null = null;
  @state() private loadErr: unknown = null;
  @state() private error: ApiError | null = null;
  @state() private saving = false;

  protected override async load() {
    this.loadErr = null;
    try {
      const [types, sub] = await Promise.all([
        this.ctx.eventTypes(),
        this.subId ? this.ctx.api.get<Subscription>(path(this.subId)) : Promise.resolve(null),
      ]);
      this.types = types;
      if (sub) {
        this.url = sub.data.url;
        this.description = sub.data.description;
        this.events = [...sub.data.events];
        this.enabled = sub.data.enabled;
        this.etag = sub.etag;
      }
    } catch (e) {
      this.loadErr = e;
    }
  }

  private async submit(e: Event) {
    e.preventDefault();
    this.saving = true;
    this.error = null;
    try {
      if (this.subId) {
        const body = { url: this.url.trim(), events: this.events, description: this.description.trim() || null, enabled: this.enabled };
        await this.ctx.api.call("PATCH", path(this.subId), { body, ifMatch: this.etag, contentType: "application/merge-patch+json" });
        this.ctx.navigate({ name: "subscription", id: this.subId, notice: "Your changes are saved." });
      } else {
        const body: Record<string, unknown> = { url: this.url.trim(), events: this.events, enabled: this.enabled };
        if (this.description.trim()) body.description = this.description.trim();
        const { data } = await this.ctx.api.call<Subscription & { secret: string }>("POST", "/v1/subscriptions", { body });
        this.ctx.navigate({
          name: "subscription",
          id: data.id,
          secret: data.secret,
          notice: "Subscription created. Reveal its signing secret below and use it to verify that deliveries come from DealerAI.",
        });
      }
    } catch (err) {
      this.error = apiError(err);
      if (this.error.conflict) await this.load();
      await focusFirstProblem(this);
    } finally {
      this.saving = false;
    }
  }

  override render() {
    const editing = !!this.subId;
    const back = () => this.ctx.navigate(editing ? { name: "subscription", id: this.subId } : { name: "subscriptions" });
    const urlErr = fieldError(this.error, "url");
    const descErr = fieldError(this.error, "description");
    return html`
      <p class="back"><button type="button" class="link" @click=${back}>← ${editing ? "Back to the subscription" : "All event subscriptions"}</button></p>
      <h2 tabindex="-1">${editing ? "Edit subscription" : "New event subscription"}</h2>
      ${this.loadErr ? loadError(this.loadErr, () => this.load()) : nothing}
      ${!this.types && !this.loadErr ? loading("the event types") : nothing}
      ${this.types
        ? html`<form class="card" novalidate @submit=${this.submit} aria-label=${editing ? "Edit subscription" : "New event subscription"}>
            ${errorSummary(this.error, (f) => ["url", "description", "enabled"].includes(f) || f === "events" || f.startsWith("events["))}
            <div class="field">
              <label for="sub-url">Endpoint URL <span class="req" aria-hidden="true">*</span></label>
              <p class="hint" id="sub-url-hint">The HTTPS address DealerAI sends events to. It must be publicly accessible.</p>
              <input id="sub-url" name="url" type="url" inputmode="url" autocomplete="url" spellcheck="false" placeholder="https://example.com/webhooks/dealerai"
                .value=${this.url} aria-required="true" aria-invalid=${urlErr ? "true" : "false"} aria-describedby="sub-url-hint sub-url-err"
                @input=${(e: Event) => (this.url = (e.target as HTMLInputElement).value)} />
              <p class="field-error" id="sub-url-err">${urlErr ?? ""}</p>
            </div>
            <div class="field">
              <label for="sub-desc">Description</label>
              <p class="hint" id="sub-desc-hint">Optional: what this endpoint is, for your colleagues.</p>
              <input id="sub-desc" name="description" type="text" .value=${this.description} aria-invalid=${descErr ? "true" : "false"}
                aria-describedby="sub-desc-hint sub-desc-err" @input=${(e: Event) => (this.description = (e.target as HTMLInputElement).value)} />
              <p class="field-error" id="sub-desc-err">${descErr ?? ""}</p>
            </div>
            <dealerai-event-picker .ctx=${this.ctx} .types=${this.types} .value=${this.events} .error=${fieldError(this.error, "events") ?? ""}
              @filters-change=${(e: CustomEvent<string[]>) => (this.events = e.detail)}></dealerai-event-picker>
            <div class="field">
              <label class="check"><input type="checkbox" name="enabled" .checked=${this.enabled}
                @change=${(e: Event) => (this.enabled = (e.target as HTMLInputElement).checked)} />
                <span>Enabled — deliver events to this endpoint</span></label>
            </div>
            <div class="form-actions">
              <button type="submit" class="primary" ?disabled=${this.saving}>${this.saving ? "Saving…" : editing ? "Save changes" : "Create subscription"}</button>
              <button type="button" @click=${back}>Cancel</button>
            </div>
          </form>`
        : nothing}
    `;
  }
}
define("dealerai-subscription-form", SubscriptionForm);

/** One subscription: its state, signing secret, test sends and delivery log. */
export class SubscriptionDetail extends Panel {
  @property() subId = "";
  @property() notice = "";
  /** The secret of a subscription just created (still masked until revealed). */
  @property() createdSecret = "";

  @state() private sub: Subscription | null = null;
  @state() private etag: string | null = null;
  @state() private types: EventType[] = [];
  @state() private loadErr: unknown = null;
  @state() private actionErr: ApiError | null = null;
  @state() private secret: Secret | null = null;
  @state() private revealed = false;
  @state() private secretMsg = "";
  @state() private testType = "";
  @state() private testMsg = "";
  @state() private testErr = false;
  @state() private busy = false;

  override connectedCallback() {
    if (this.createdSecret) this.secret = { secret: this.createdSecret };
    super.connectedCallback();
  }

  protected override async load() {
    this.loadErr = null;
    try {
      const [sub, types] = await Promise.all([this.ctx.api.get<Subscription>(path(this.subId)), this.ctx.eventTypes()]);
      this.sub = sub.data;
      this.etag = sub.etag;
      this.types = types;
      if (!this.testType || !types.some((t) => t.type === this.testType)) {
        this.testType = (types.find((t) => sub.data.events.some((f) => matches(f, t.type))) ?? types[0])?.type ?? "";
      }
    } catch (e) {
      this.loadErr = e;
    }
  }

  private fail(e: unknown) {
    this.actionErr = apiError(e);
    this.ctx.announce(this.actionErr.message);
    if (this.actionErr.conflict) void this.load();
  }

  private async setEnabled(enabled: boolean) {
    this.busy = true;
    this.actionErr = null;
    try {
      const r = await this.ctx.api.call<Subscription>("PATCH", path(this.subId), {
        body: { enabled },
        ifMatch: this.etag,
        contentType: "application/merge-patch+json",
      });
      this.sub = r.data;
      this.etag = r.etag;
      this.notice = enabled ? "The subscription is enabled: events are delivered again." : "The subscription is disabled: no events are delivered to it.";
      this.ctx.announce(this.notice);
    } catch (e) {
      this.fail(e);
    } finally {
      this.busy = false;
    }
  }

  private async deleteSubscription() {
    const ok = await this.ctx.confirm({
      title: "Delete this subscription?",
      body: `Deliveries to ${this.sub?.url} stop at once and its delivery log is no longer shown. This cannot be undone.`,
      confirm: "Delete subscription",
      danger: true,
    });
    if (!ok) return;
    try {
      await this.ctx.api.call("DELETE", path(this.subId), { ifMatch: this.etag });
      this.ctx.navigate({ name: "subscriptions", notice: `The subscription to ${this.sub?.url} is deleted.` });
    } catch (e) {
      this.fail(e);
    }
  }

  private async reveal() {
    try {
      this.secret = (await this.ctx.api.get<Secret>(path(this.subId) + "/secret")).data;
      this.revealed = true;
      this.secretMsg = "";
    } catch (e) {
      this.fail(e);
    }
  }

  private async copy() {
    if (!this.secret) return;
    try {
      await navigator.clipboard.writeText(this.secret.secret);
      this.secretMsg = "The signing secret is copied to the clipboard.";
    } catch {
      const out = this.querySelector("#secret-value");
      if (out) getSelection()?.selectAllChildren(out);
      this.secretMsg = "The browser did not allow copying. The secret is selected: copy it with your keyboard.";
    }
    this.ctx.announce(this.secretMsg);
  }

  /** Rotates the secret; revokePrevious stops the current one at once (a leaked secret). */
  private async rotate(revokePrevious = false) {
    const ok = await this.ctx.confirm(
      revokePrevious
        ? {
            title: "Revoke the signing secret now?",
            body: "A new secret signs every delivery from now on and the current secret stops at once. Use this when the secret may have leaked: your endpoint rejects deliveries until it uses the new secret.",
            confirm: "Revoke and rotate",
            danger: true,
          }
        : {
            title: "Rotate the signing secret?",
            body: "A new secret signs every delivery from now on. The current secret keeps signing deliveries too for 24 hours, so you have time to update your endpoint.",
            confirm: "Rotate secret",
          },
    );
    if (!ok) return;
    try {
      const { data } = await this.ctx.api.call<Secret>("POST", path(this.subId) + "/rotate-secret", revokePrevious ? { body: { revokePrevious: true } } : {});
      this.secret = data;
      this.revealed = false;
      this.secretMsg = revokePrevious
        ? "A new signing secret is created and the previous one is revoked: deliveries are signed with the new secret only."
        : "A new signing secret is created. The previous secret still signs deliveries for 24 hours; update your endpoint before then.";
      this.ctx.announce(this.secretMsg);
    } catch (e) {
      this.fail(e);
    }
  }

  private async sendTest(e: Event) {
    e.preventDefault();
    this.testMsg = "";
    try {
      const { data } = await this.ctx.api.call<{ deliveryId: string }>("POST", path(this.subId) + "/test", { body: { eventType: this.testType } });
      this.testMsg = `A test ${this.testType} event is on its way (delivery ${data.deliveryId}). Watch it in the delivery log below.`;
      this.testErr = false;
      this.querySelector<DeliveryLog>("dealerai-delivery-log")?.watch();
    } catch (err) {
      this.testMsg = messageOf(err);
      this.testErr = true;
    }
    this.ctx.announce(this.testMsg);
  }

  override render() {
    const s = this.sub;
    return html`
      <p class="back"><button type="button" class="link" @click=${() => this.ctx.navigate({ name: "subscriptions" })}>← All event subscriptions</button></p>
      <div class="spread"><h2 tabindex="-1">Event subscription</h2>${s ? statusBadge(s.status) : nothing}</div>
      ${this.loadErr ? loadError(this.loadErr, () => this.load()) : nothing}
      ${!s && !this.loadErr ? loading("the subscription") : nothing}
      ${s ? this.body(s) : nothing}
    `;
  }

  private body(s: Subscription) {
    return html`
      ${this.notice ? html`<div class="notice success" role="status">${this.notice}</div>` : nothing}
      ${this.actionErr ? html`<div class="notice ${this.actionErr.conflict ? "warn" : "error"}" role="alert">${this.actionErr.message}</div>` : nothing}
      ${s.disabledReason ? html`<div class="notice warn" role="note"><p><strong>Disabled:</strong> ${s.disabledReason}</p></div>` : nothing}
      <section class="card" aria-labelledby="sub-details">
        <div class="spread">
          <h3 id="sub-details">Details</h3>
          <div class="row">
            <button type="button" @click=${() => this.ctx.navigate({ name: "edit-subscription", id: s.id })}>Edit</button>
            <button type="button" ?disabled=${this.busy} @click=${() => this.setEnabled(!s.enabled)}>${s.enabled ? "Disable" : "Enable"}</button>
            <button type="button" class="danger" @click=${() => this.deleteSubscription()}>Delete</button>
          </div>
        </div>
        <dl class="facts">
          <dt>Endpoint</dt><dd><code data-role="url">${s.url}</code></dd>
          <dt>Description</dt><dd>${s.description || html`<span class="muted">none</span>`}</dd>
          <dt>Events</dt><dd>${chips(s.events, 50)}</dd>
          <dt>Status</dt><dd>${s.enabled ? "Enabled" : "Disabled"}</dd>
          ${s.circuit ? html`<dt>Circuit breaker</dt><dd>${circuitState(s.circuit)}</dd>` : nothing}
          <dt>Created</dt><dd>${fmtTime(s.createdAt)}</dd>
          <dt>Updated</dt><dd>${fmtTime(s.updatedAt)}</dd>
          <dt>ID</dt><dd><code>${s.id}</code></dd>
        </dl>
      </section>
      ${this.secretSection()}
      <section class="card" aria-labelledby="test-title">
        <h3 id="test-title">Send a test event</h3>
        <p class="hint">Sends the catalog's example of an event type to this endpoint, signed like every delivery.</p>
        <form class="row" novalidate @submit=${this.sendTest}>
          <label for="test-type">Event type</label>
          <select id="test-type" name="eventType" @change=${(e: Event) => (this.testType = (e.target as HTMLSelectElement).value)}>
            ${groups(this.types).map(
              ([g, types]) => html`<optgroup label=${groupName(g)}>${types.map(
                (t) => html`<option value=${t.type} ?selected=${t.type === this.testType}>${t.type}</option>`,
              )}</optgroup>`,
            )}
          </select>
          <button type="submit" ?disabled=${!s.enabled} title=${s.enabled ? "" : "Enable the subscription to send test events"}>Send test event</button>
        </form>
        ${this.testMsg ? html`<p class="notice ${this.testErr ? "error" : "success"}" role=${this.testErr ? "alert" : "status"}>${this.testMsg}</p>` : nothing}
      </section>
      <section class="card" aria-label="Delivery log">
        <dealerai-delivery-log .ctx=${this.ctx} .base=${path(s.id)} .retryBlocked=${s.enabled ? "" : "Enable the subscription to retry deliveries"}></dealerai-delivery-log>
      </section>
    `;
  }

  private secretSection() {
    const shown = this.revealed && this.secret;
    return html`<section class="card" aria-labelledby="secret-title">
      <h3 id="secret-title">Signing secret</h3>
      <p class="hint">Every delivery is signed with this secret (Standard Webhooks). Keep it private; rotate it if it may have leaked.</p>
      <div class="secret">
        <output id="secret-value" aria-label="Signing secret" data-role="secret">${shown ? this.secret!.secret : "••••••••••••••••••••••••"}</output>
        ${shown
          ? html`<button type="button" @click=${() => this.copy()}>Copy</button>
              <button type="button" @click=${() => (this.revealed = false)}>Hide</button>`
          : html`<button type="button" @click=${() => this.reveal()}>Reveal</button>`}
        <button type="button" @click=${() => this.rotate()}>Rotate secret</button>
        <button type="button" class="danger" title="Rotate the secret and stop the current one at once (a leaked secret)" @click=${() => this.rotate(true)}>Revoke now…</button>
      </div>
      ${shown && this.secret!.previousSecretExpiresAt
        ? html`<p class="small muted">The previous secret also signs deliveries until ${fmtTime(this.secret!.previousSecretExpiresAt)}.</p>`
        : nothing}
      ${this.secretMsg ? html`<p class="notice success" role="status">${this.secretMsg}</p>` : nothing}
    </section>`;
  }
}
define("dealerai-subscription-detail", SubscriptionDetail);
