import { html, nothing } from "lit";
import { property, state } from "lit/decorators.js";
import { ApiError, apiError, messageOf, type Agent, type KeySpec, type SyncStatus } from "./api.js";
import "./deliveries.js";
import { Panel, circuitState, define, errorSummary, fieldError, fmtTime, focusFirstProblem, humanize, loadError, loading } from "./shared.js";

/** A specification's description as a sentence: capitalized, with a full stop. */
function sentence(text = ""): string {
  const t = text.trim();
  if (!t) return "";
  return t[0].toUpperCase() + t.slice(1) + (/[.!?)]$/.test(t) ? "" : ".");
}

const notInPlan = "Not in your plan — contact your account manager to enable it.";

function agentBadge(a: Agent) {
  if (a.available === false) return html`<span class="badge warn">Not in your plan</span>`;
  if (a.enabled) return html`<span class="badge ok">Enabled</span>`;
  if (a.updatedAt) return html`<span class="badge">Disabled</span>`;
  return html`<span class="badge">Not configured</span>`;
}

/** The integration agents: one card per platform with what it does and its state. */
export class AgentList extends Panel {
  @state() private agents: Agent[] | null = null;
  @state() private error: unknown = null;

  protected override async load() {
    this.error = null;
    try {
      this.agents = (await this.ctx.api.get<{ items: Agent[] }>("/v1/agents")).data.items;
    } catch (e) {
      this.error = e;
    }
  }

  override render() {
    return html`
      <h2 tabindex="-1">Integration agents</h2>
      <p class="lead">Pre-built connections to the automotive platforms and CRMs your dealership uses. Enabling an agent
        starts the two-way data sync between DealerAI and that platform.</p>
      ${this.error ? loadError(this.error, () => this.load()) : nothing}
      ${!this.agents && !this.error ? loading("integration agents") : nothing}
      ${this.agents
        ? html`<ul class="grid" role="list" aria-label="Integration agents">
              ${this.agents.map(
                (a) => html`<li class="card" data-platform=${a.platform}>
                  <div class="card-head"><h3>${a.name}</h3>${agentBadge(a)}</div>
                  <ul class="caps">${a.capabilities.map((c) => html`<li>${c}</li>`)}</ul>
                  ${a.available === false ? html`<p class="small">${a.unavailableReason || notInPlan}</p>` : nothing}
                  <div class="actions">
                    <button type="button" class=${a.available === false ? "" : "primary"}
                      @click=${() => this.ctx.navigate({ name: "agent", platform: a.platform })}>
                      ${a.available === false ? "View" : a.updatedAt ? "Manage" : "Set up"}<span class="sr-only"> ${a.name}</span>
                    </button>
                  </div>
                </li>`,
              )}
            </ul>
            <p class="muted small">Contact your DealerAI account manager to enable additional integration agents not listed
              here. Availability may depend on your subscription plan.</p>`
        : nothing}
    `;
  }
}
define("dealerai-agent-list", AgentList);

/** One credential's pending change: a new value, or its removal. */
type CredentialEdit = { value: string; remove: boolean };

/**
 * One agent: its settings form (generated from the platform's specification), write-only
 * credentials, enabling, sync status when the API reports it, and its delivery log.
 */
export class AgentDetail extends Panel {
  @property() platform = "";

  @state() private agent: Agent | null = null;
  @state() private etag: string | null = null;
  @state() private loadErr: unknown = null;
  @state() private settings: Record<string, string> = {};
  @state() private creds: Record<string, CredentialEdit> = {};
  @state() private enabled = true;
  @state() private saving = false;
  @state() private error: ApiError | null = null;
  @state() private saved = "";
  @state() private sync: SyncStatus | null = null;
  @state() private syncMsg = "";

  protected override async load() {
    this.loadErr = null;
    try {
      const one = await this.ctx.api.get<Agent>(`/v1/agents/${encodeURIComponent(this.platform)}`);
      let agent = one.data;
      if (!agent.settingsSpec || agent.available === undefined) {
        // The list may say more about each platform (its plan, its specification) than one read.
        const list = await this.ctx.api.get<{ items: Agent[] }>("/v1/agents");
        const item = list.data.items.find((a) => a.platform === this.platform);
        if (item) agent = { ...item, ...agent, settingsSpec: agent.settingsSpec ?? item.settingsSpec, credentialsSpec: agent.credentialsSpec ?? item.credentialsSpec };
      }
      this.agent = agent;
      this.etag = one.etag;
      this.settings = { ...agent.settings };
      this.creds = {};
      this.enabled = agent.updatedAt ? agent.enabled : agent.available !== false;
      void this.loadSync();
    } catch (e) {
      this.loadErr = e;
    }
  }

  /** Sync status, when the API offers it (otherwise the section stays hidden). */
  private async loadSync() {
    try {
      this.sync = (await this.ctx.api.get<SyncStatus>(`/v1/agents/${encodeURIComponent(this.platform)}/sync`)).data;
    } catch {
      this.sync = null;
    }
  }

  private settingsSpec(a: Agent): KeySpec[] {
    return a.settingsSpec ?? Object.keys(a.settings).sort().map((key) => ({ key }));
  }

  private credentialsSpec(a: Agent): KeySpec[] {
    return a.credentialsSpec ?? a.credentialsSet.map((key) => ({ key }));
  }

  private async save(e: Event) {
    e.preventDefault();
    const a = this.agent;
    if (!a) return;
    const settings: Record<string, string> = {};
    for (const spec of this.settingsSpec(a)) {
      const v = (this.settings[spec.key] ?? "").trim();
      // An absent key takes the platform's default: no need to send (and check) the default.
      if (v && v !== spec.default) settings[spec.key] = v;
    }
    const credentials: Record<string, string> = {};
    for (const [key, edit] of Object.entries(this.creds)) {
      if (edit.remove) credentials[key] = "";
      else if (edit.value) credentials[key] = edit.value;
    }
    const body: Record<string, unknown> = { enabled: this.enabled, settings };
    if (Object.keys(credentials).length) body.credentials = credentials;
    this.saving = true;
    this.error = null;
    this.saved = "";
    try {
      const r = await this.ctx.api.call<Agent>("PUT", `/v1/agents/${encodeURIComponent(this.platform)}`, { body, ifMatch: this.etag });
      this.agent = { ...a, ...r.data };
      this.etag = r.etag;
      this.settings = { ...r.data.settings };
      this.creds = {};
      this.saved = r.data.enabled ? `${a.name} is saved and enabled.` : `${a.name} is saved (disabled).`;
      this.ctx.announce(this.saved);
    } catch (err) {
      this.error = apiError(err);
      if (this.error.conflict) await this.load();
      await focusFirstProblem(this);
    } finally {
      this.saving = false;
    }
  }

  private async removeConfiguration() {
    const name = this.agent?.name ?? this.platform;
    const ok = await this.ctx.confirm({
      title: `Remove the ${name} configuration?`,
      body: `The agent is disabled and its settings and credentials are erased. Events stop going to ${name}.`,
      confirm: "Remove configuration",
      danger: true,
    });
    if (!ok) return;
    try {
      await this.ctx.api.call("DELETE", `/v1/agents/${encodeURIComponent(this.platform)}`, { ifMatch: this.etag });
      this.saved = `${this.agent?.name} is disabled and its settings and credentials are erased.`;
      this.ctx.announce(this.saved);
      this.error = null;
      await this.load();
    } catch (err) {
      this.error = apiError(err);
      if (this.error.conflict) await this.load();
    }
  }

  private async syncNow() {
    try {
      await this.ctx.api.call("POST", `/v1/agents/${encodeURIComponent(this.platform)}/sync`);
      this.syncMsg = "Sync started.";
      await this.loadSync();
    } catch (e) {
      this.syncMsg = messageOf(e);
    }
    this.ctx.announce(this.syncMsg);
  }

  override render() {
    const a = this.agent;
    return html`
      <p class="back"><button type="button" class="link" @click=${() => this.ctx.navigate({ name: "agents" })}>← All integration agents</button></p>
      <div class="spread"><h2 tabindex="-1">${a?.name ?? "Integration agent"}</h2>${a ? agentBadge(a) : nothing}</div>
      ${this.loadErr ? loadError(this.loadErr, () => this.load()) : nothing}
      ${!a && !this.loadErr ? loading("the agent") : nothing}
      ${a ? this.body(a) : nothing}
    `;
  }

  private body(a: Agent) {
    const unavailable = a.available === false;
    return html`
      <ul class="caps">${a.capabilities.map((c) => html`<li>${c}</li>`)}</ul>
      <p class="small muted">Receives: ${a.events.map((e, i) => html`${i ? ", " : ""}<code>${e}</code>`)}</p>
      ${unavailable
        ? html`<div class="notice warn" role="note"><p><strong>Not in your plan.</strong> ${a.unavailableReason || "Contact your account manager to enable it."}</p></div>`
        : nothing}
      ${this.saved ? html`<div class="notice success" role="status">${this.saved}</div>` : nothing}
      ${a.circuit && a.circuit.state !== "closed"
        ? html`<section class="card" aria-label="Circuit breaker"><dl class="facts"><dt>Circuit breaker</dt><dd>${circuitState(a.circuit)}</dd></dl></section>`
        : nothing}
      ${this.sync ? this.syncSection() : nothing}
      <form class="card" novalidate @submit=${this.save} aria-labelledby="agent-config">
        <h3 id="agent-config">Configuration</h3>
        ${errorSummary(this.error, (f) => f === "enabled" || f.startsWith("settings.") || f.startsWith("credentials."))}
        <div class="field">
          <label class="check"><input type="checkbox" name="enabled" .checked=${this.enabled} ?disabled=${unavailable && !a.enabled}
            aria-invalid=${fieldError(this.error, "enabled") ? "true" : "false"} aria-describedby="enabled-err"
            @change=${(e: Event) => (this.enabled = (e.target as HTMLInputElement).checked)} />
            <span>Enabled — send DealerAI events to ${a.name} and sync its changes back</span></label>
          <p class="field-error" id="enabled-err">${fieldError(this.error, "enabled") ?? ""}</p>
        </div>
        <fieldset>
          <legend>Settings</legend>
          ${this.settingsSpec(a).length === 0 ? html`<p class="muted">This platform has no settings.</p>` : nothing}
          ${this.settingsSpec(a).map((s) => this.settingField(s))}
        </fieldset>
        <fieldset>
          <legend>Credentials</legend>
          <p class="hint">Credentials are write-only: once saved they are never shown again, only whether each one is set.
            Leave a field empty to keep the stored value.</p>
          ${this.credentialsSpec(a).length === 0 ? html`<p class="muted">No credentials are stored.</p>` : nothing}
          ${this.credentialsSpec(a).map((s) => this.credentialField(a, s))}
        </fieldset>
        <p class="small muted" aria-hidden="true"><span class="req">*</span> required</p>
        <div class="form-actions">
          <button type="submit" class="primary" ?disabled=${this.saving || (unavailable && !a.enabled)}>${this.saving ? "Saving…" : "Save"}</button>
          ${a.updatedAt ? html`<button type="button" class="danger" @click=${() => this.removeConfiguration()}>Remove configuration</button>` : nothing}
        </div>
      </form>
      <section class="card" aria-label="Delivery log">
        <dealerai-delivery-log .ctx=${this.ctx} .base=${`/v1/agents/${encodeURIComponent(this.platform)}`}
          .retryBlocked=${a.enabled ? "" : "Enable the agent to retry deliveries"}></dealerai-delivery-log>
      </section>
    `;
  }

  private settingField(s: KeySpec) {
    const id = `setting-${s.key}`;
    const err = fieldError(this.error, `settings.${s.key}`);
    return html`<div class="field" data-setting=${s.key}>
      <label for=${id}>${humanize(s.key)}${s.required ? html` <span class="req" aria-hidden="true">*</span>` : nothing}</label>
      <p class="hint" id=${id + "-hint"}>${sentence(s.description)}${s.default ? html` Default: <code>${s.default}</code>` : nothing}</p>
      <input id=${id} name=${s.key} type=${s.url ? "url" : "text"} autocomplete="off" spellcheck="false"
        .value=${this.settings[s.key] ?? ""} placeholder=${s.default ?? ""}
        aria-required=${s.required ? "true" : "false"} aria-invalid=${err ? "true" : "false"}
        aria-describedby=${`${id}-hint ${id}-err`}
        @input=${(e: Event) => (this.settings = { ...this.settings, [s.key]: (e.target as HTMLInputElement).value })} />
      <p class="field-error" id=${id + "-err"}>${err ?? ""}</p>
    </div>`;
  }

  private credentialField(a: Agent, s: KeySpec) {
    const id = `credential-${s.key}`;
    const err = fieldError(this.error, `credentials.${s.key}`);
    const isSet = a.credentialsSet.includes(s.key);
    const edit = this.creds[s.key] ?? { value: "", remove: false };
    const setEdit = (e: CredentialEdit) => (this.creds = { ...this.creds, [s.key]: e });
    return html`<div class="field" data-credential=${s.key}>
      <div class="spread">
        <label for=${id}>${humanize(s.key)}${s.required ? html` <span class="req" aria-hidden="true">*</span>` : nothing}</label>
        <span class="badge ${isSet ? "ok" : ""}" id=${id + "-state"}>${edit.remove ? "Will be removed" : isSet ? "Set" : "Not set"}</span>
      </div>
      <p class="hint" id=${id + "-hint"}>${sentence(s.description)}</p>
      <div class="row">
        <input id=${id} name=${s.key} type="password" autocomplete="new-password" spellcheck="false"
          .value=${edit.value} ?disabled=${edit.remove} placeholder=${isSet ? "Enter a new value to replace it" : "Enter the value"}
          aria-required=${s.required && !isSet ? "true" : "false"} aria-invalid=${err ? "true" : "false"}
          aria-describedby=${`${id}-state ${id}-hint ${id}-err`}
          @input=${(e: Event) => setEdit({ value: (e.target as HTMLInputElement).value, remove: false })} />
        ${isSet
          ? html`<button type="button" aria-pressed=${edit.remove ? "true" : "false"} @click=${() => setEdit({ value: "", remove: !edit.remove })}>
              ${edit.remove ? "Keep" : "Remove"}<span class="sr-only"> ${humanize(s.key)}</span></button>`
          : nothing}
      </div>
      <p class="field-error" id=${id + "-err"}>${err ?? ""}</p>
    </div>`;
  }

  private syncSection() {
    const s = this.sync!;
    const states: Record<string, [string, string]> = {
      idle: ["Idle", "ok"],
      running: ["Running", "info"],
      backing_off: ["Backing off", "warn"],
      failing: ["Failing", "bad"],
    };
    const [label, cls] = states[s.state] ?? [s.state, ""];
    return html`<section class="card" aria-labelledby="sync-title">
      <div class="spread"><h3 id="sync-title">Sync from ${this.agent?.name}</h3><span class="badge ${cls}">${label}</span></div>
      <dl class="facts">
        <dt>Last run</dt><dd>${s.lastRun ? html`${fmtTime(s.lastRun.startedAt)} – ${fmtTime(s.lastRun.finishedAt)}` : "never"}</dd>
        ${s.lastRun ? html`<dt>Records read</dt><dd>${s.lastRun.recordsRead ?? 0}</dd>
          <dt>Events published</dt><dd>${s.lastRun.eventsPublished ?? 0}</dd>` : nothing}
        ${s.lastRun?.error ? html`<dt>Error</dt><dd class="field-error">${s.lastRun.error}</dd>` : nothing}
        <dt>Changes read up to</dt><dd>${fmtTime(s.cursorTime)}</dd>
        <dt>Next run</dt><dd>${fmtTime(s.nextRunAt)}</dd>
      </dl>
      <div class="form-actions"><button type="button" @click=${() => this.syncNow()} ?disabled=${s.state === "running"}>Sync now</button></div>
      ${this.syncMsg ? html`<p role="status">${this.syncMsg}</p>` : nothing}
    </section>`;
  }
}
define("dealerai-agent-detail", AgentDetail);
