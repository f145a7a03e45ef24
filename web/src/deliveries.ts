import { html, nothing } from "lit";
import { property, state } from "lit/decorators.js";
import { ApiError, apiError, messageOf, type Delivery, type DeliveryDetail, type Page, type Recovered } from "./api.js";
import { Panel, define, fmtTime, loadError, statusBadge } from "./shared.js";

const statuses = ["", "pending", "succeeded", "failed", "skipped"] as const;
const statusNames: Record<string, string> = { "": "All", pending: "Pending", succeeded: "Succeeded", failed: "Failed", skipped: "Skipped" };

/** The recover calls one click makes at the most (each queues up to 100 deliveries). */
const maxRecoverCalls = 50;

/** How often and how long the log refreshes itself while a delivery is under way. */
const watchEvery = 1500;
const watchFor = 120_000;

/**
 * The delivery log of one target (a subscription or an agent): newest first, filtered by
 * status, each delivery's attempts on request, retry of a failed or skipped one. While a
 * delivery is pending (or after `watch()`), the log refreshes itself.
 */
export class DeliveryLog extends Panel {
  /** The target's path: /v1/subscriptions/{id} or /v1/agents/{platform}. */
  @property() base = "";
  /** Why retries cannot start now (a disabled target), or "" when they can. */
  @property() retryBlocked = "";

  @state() private status = "";
  @state() private items: Delivery[] = [];
  @state() private next: string | null = null;
  @state() private loaded = false;
  @state() private busy = false;
  @state() private recovering = false;
  @state() private error: unknown = null;
  @state() private message = "";
  @state() private messageError = false;
  @state() private open = new Map<string, DeliveryDetail | ApiError | "loading">();

  private timer?: number;
  private watchUntil = 0;

  protected override load() {
    return this.reload();
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    window.clearTimeout(this.timer);
  }

  /** Reloads now and keeps refreshing while deliveries are pending (a test send, a retry). */
  watch() {
    this.watchUntil = Date.now() + watchFor;
    void this.reload();
  }

  async reload() {
    window.clearTimeout(this.timer);
    this.busy = true;
    try {
      const { data } = await this.ctx.api.get<Page<Delivery>>(this.base + "/deliveries", { status: this.status, limit: this.ctx.pageSize });
      this.items = data.items;
      this.next = data.nextCursor;
      this.error = null;
      await this.refreshOpen();
    } catch (e) {
      this.error = e;
    } finally {
      this.busy = false;
      this.loaded = true;
    }
    this.schedule();
  }

  /** Polls again soon while a delivery is pending, for up to watchFor after it was first seen. */
  private schedule() {
    if (!this.isConnected || !this.items.some((d) => d.status === "pending")) return;
    if (this.watchUntil < Date.now() - watchFor) this.watchUntil = Date.now() + watchFor;
    if (Date.now() < this.watchUntil) this.timer = window.setTimeout(() => void this.reload(), watchEvery);
  }

  private async more() {
    if (!this.next) return;
    this.busy = true;
    try {
      const { data } = await this.ctx.api.get<Page<Delivery>>(this.base + "/deliveries", { status: this.status, limit: this.ctx.pageSize, cursor: this.next });
      this.items = [...this.items, ...data.items];
      this.next = data.nextCursor;
    } catch (e) {
      this.flash(messageOf(e), true);
    } finally {
      this.busy = false;
    }
  }

  /** Re-reads the open deliveries whose list entry changed. */
  private async refreshOpen() {
    const changed = this.items.filter((d) => {
      const o = this.open.get(d.deliveryId);
      return o && !(o instanceof ApiError) && o !== "loading" && o.updatedAt !== d.updatedAt;
    });
    await Promise.all(changed.map((d) => this.loadDetail(d.deliveryId)));
  }

  private async loadDetail(id: string) {
    try {
      const { data } = await this.ctx.api.get<DeliveryDetail>(`${this.base}/deliveries/${encodeURIComponent(id)}`);
      this.open = new Map(this.open).set(id, data);
    } catch (e) {
      this.open = new Map(this.open).set(id, apiError(e));
    }
  }

  private toggle(id: string) {
    const open = new Map(this.open);
    if (open.has(id)) {
      open.delete(id);
      this.open = open;
      return;
    }
    this.open = open.set(id, "loading");
    void this.loadDetail(id);
  }

  private async retry(d: Delivery) {
    try {
      const { data } = await this.ctx.api.call<{ deliveryId: string }>("POST", `${this.base}/deliveries/${encodeURIComponent(d.deliveryId)}/retry`);
      this.flash(`Retry queued: a new delivery of ${d.eventType} (${data.deliveryId}).`);
      this.watch();
    } catch (e) {
      this.flash(messageOf(e), true);
    }
  }

  /** Queues again every failed delivery since the chosen time (POST .../recover, page by page). */
  private async recover(e: Event) {
    e.preventDefault();
    const input = (e.target as HTMLFormElement).elements.namedItem("since") as HTMLInputElement;
    const since = new Date(input.value);
    if (!input.value || Number.isNaN(since.getTime())) {
      this.flash("Choose the time the endpoint went down.", true);
      input.focus();
      return;
    }
    this.recovering = true;
    let queued = 0;
    try {
      let cursor: string | null = null;
      for (let i = 0; i < maxRecoverCalls; i++) {
        const body: Record<string, string> = { since: since.toISOString() };
        if (cursor) body.cursor = cursor;
        const { data }: { data: Recovered } = await this.ctx.api.call<Recovered>("POST", `${this.base}/recover`, { body });
        queued += data.queued;
        cursor = data.nextCursor;
        if (!cursor) break;
      }
      this.flash(
        queued === 0
          ? `No failed deliveries since ${fmtTime(since.toISOString())} to recover.`
          : `${queued} failed ${queued === 1 ? "delivery" : "deliveries"} since ${fmtTime(since.toISOString())} queued again, paced so the endpoint is not flooded.` +
              (cursor ? " There are more: recover again to continue." : ""),
      );
      this.watch();
    } catch (err) {
      this.flash((queued ? `${queued} queued, then: ` : "") + messageOf(err), true);
    } finally {
      this.recovering = false;
    }
  }

  private flash(message: string, isError = false) {
    this.message = message;
    this.messageError = isError;
    this.ctx.announce(message);
  }

  private filter(e: Event) {
    this.status = (e.target as HTMLSelectElement).value;
    this.open = new Map();
    void this.reload();
  }

  override render() {
    const id = (s: string) => `dl-${s}`;
    return html`
      <div class="spread">
        <h3 id=${id("title")}>Delivery log</h3>
        <div class="row">
          <label for=${id("status")}>Status</label>
          <select id=${id("status")} data-role="status-filter" @change=${this.filter}>
            ${statuses.map((s) => html`<option value=${s} ?selected=${s === this.status}>${statusNames[s]}</option>`)}
          </select>
          <button type="button" @click=${() => this.reload()} ?disabled=${this.busy}>Refresh</button>
        </div>
      </div>
      <form class="row recover" @submit=${this.recover} aria-label="Recover failed deliveries">
        <label for=${id("since")}>Endpoint down? Recover failed deliveries since</label>
        <input type="datetime-local" id=${id("since")} name="since" step="60" />
        <button type="submit" ?disabled=${this.recovering || !!this.retryBlocked} title=${this.retryBlocked || "Deliver every failed delivery since then again"}>
          ${this.recovering ? "Recovering…" : "Recover"}</button>
      </form>
      ${this.message
        ? html`<div class="notice ${this.messageError ? "error" : "success"}" role=${this.messageError ? "alert" : "status"}>${this.message}</div>`
        : nothing}
      ${this.error ? loadError(this.error, () => this.reload()) : nothing}
      ${!this.loaded
        ? html`<p class="loading" role="status">Loading deliveries…</p>`
        : this.items.length === 0
          ? html`<p class="empty">${this.status ? `No ${statusNames[this.status].toLowerCase()} deliveries.` : "No deliveries yet. Deliveries appear here as events are sent."}</p>`
          : this.table()}
      ${this.next
        ? html`<p><button type="button" @click=${() => this.more()} ?disabled=${this.busy}>Load more deliveries</button></p>`
        : nothing}
    `;
  }

  private table() {
    return html`<div class="table-wrap"><table aria-labelledby="dl-title">
      <thead><tr>
        <th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th>
        <th scope="col">Last response</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th>
      </tr></thead>
      <tbody>
        ${this.items.map((d) => {
          const detail = this.open.get(d.deliveryId);
          const detailId = `attempts-${d.deliveryId}`;
          return html`
            <tr data-delivery=${d.deliveryId} data-status=${d.status}>
              <td><code>${d.eventType}</code>${d.retryOf ? html`<div class="small muted">retry of ${d.retryOf}</div>` : nothing}</td>
              <td>${statusBadge(d.status)}</td>
              <td>${d.attemptCount}</td>
              <td>${d.lastStatusCode ?? "—"}${d.lastError ? html`<div class="small muted">${d.lastError}</div>` : nothing}</td>
              <td>${fmtTime(d.createdAt)}</td>
              <td><div class="row">
                <button type="button" aria-expanded=${detail ? "true" : "false"} aria-controls=${detailId}
                  @click=${() => this.toggle(d.deliveryId)}>${detail ? "Hide attempts" : "Show attempts"}<span class="sr-only"> of ${d.eventType} ${fmtTime(d.createdAt)}</span></button>
                ${d.retriedBy
                  ? html`<span class="small muted">retried as <code>${d.retriedBy}</code></span>`
                  : d.status === "failed" || d.status === "skipped"
                  ? html`<button type="button" @click=${() => this.retry(d)} ?disabled=${!!this.retryBlocked}
                      title=${this.retryBlocked || "Deliver this event again"}>Retry<span class="sr-only"> ${d.eventType} ${fmtTime(d.createdAt)}</span></button>`
                  : nothing}
              </div></td>
            </tr>
            ${detail ? html`<tr class="detail" id=${detailId}><td colspan="6">${this.detail(detail)}</td></tr>` : nothing}`;
        })}
      </tbody>
    </table></div>`;
  }

  private detail(d: DeliveryDetail | ApiError | "loading") {
    if (d === "loading") return html`<p class="loading" role="status">Loading attempts…</p>`;
    if (d instanceof ApiError) return html`<p class="notice error" role="alert">${d.message}</p>`;
    return html`
      <p class="small muted">Delivery <code>${d.deliveryId}</code> of event <code>${d.eventId}</code>.</p>
      ${d.attempts.length === 0
        ? html`<p class="muted">No attempt yet.</p>`
        : html`<table class="attempts">
            <caption>Attempts</caption>
            <thead><tr><th scope="col">#</th><th scope="col">At</th><th scope="col">Status</th><th scope="col">Duration</th><th scope="col">Error</th><th scope="col">Response</th></tr></thead>
            <tbody>${d.attempts.map(
              (a) => html`<tr data-attempt=${a.attempt}>
                <td>${a.attempt}</td>
                <td>${fmtTime(a.at)}</td>
                <td>${a.statusCode ?? "—"}</td>
                <td>${a.durationMs} ms</td>
                <td>${a.error ?? "—"}</td>
                <td>${a.responseSnippet ? html`<pre class="snippet">${a.responseSnippet}</pre>` : "—"}</td>
              </tr>`,
            )}</tbody>
          </table>`}
      ${d.payload !== undefined
        ? html`<details><summary>Payload</summary><pre class="snippet">${JSON.stringify(d.payload, null, 2)}</pre></details>`
        : nothing}
    `;
  }
}
define("dealerai-delivery-log", DeliveryLog);
