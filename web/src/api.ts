// The DealerAI Integrations REST API, as the page uses it: every call carries a fresh token
// from the host page, errors come back as ApiError with the problem document's detail and
// field errors. The resource shapes are those of docs/api.md.

/** A token source: the host page's callback; it may return a promise (and refresh the token). */
export type TokenSource = () => string | Promise<string>;

export interface FieldError {
  field: string;
  message: string;
}

/** An error the API (or the way to it) answered, ready to show to a person. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fieldErrors: FieldError[] = [],
  ) {
    super(message);
  }
  /** 412: the resource changed since it was read (If-Match). */
  get conflict(): boolean {
    return this.status === 412;
  }
}

export interface KeySpec {
  key: string;
  required?: boolean;
  default?: string;
  url?: boolean;
  description?: string;
}

export interface Agent {
  platform: string;
  name: string;
  capabilities: string[];
  events: string[];
  enabled: boolean;
  settings: Record<string, string>;
  credentialsSet: string[];
  updatedAt: string | null;
  // Present when the API reports plans and settings specifications.
  available?: boolean;
  unavailableReason?: string;
  settingsSpec?: KeySpec[];
  credentialsSpec?: KeySpec[];
  // The circuit breaker of its deliveries to the platform (GET of one agent).
  circuit?: Circuit | null;
}

export interface SyncStatus {
  state: string;
  lastRun?: {
    startedAt?: string | null;
    finishedAt?: string | null;
    recordsRead?: number;
    eventsPublished?: number;
    error?: string | null;
  } | null;
  cursorTime?: string | null;
  nextRunAt?: string | null;
}

export interface Subscription {
  id: string;
  url: string;
  events: string[];
  description: string;
  enabled: boolean;
  status: string;
  disabledReason: string | null;
  createdAt: string;
  updatedAt: string;
  circuit?: Circuit | null;
}

export interface EventType {
  type: string;
  group: string;
  description: string;
}

export interface Delivery {
  deliveryId: string;
  eventId: string;
  eventType: string;
  status: string;
  attemptCount: number;
  lastStatusCode: number | null;
  lastError: string | null;
  retryOf: string | null;
  /** The retry made of this delivery (one per delivery), if any. */
  retriedBy?: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What POST .../recover answers. */
export interface Recovered {
  queued: number;
  nextCursor: string | null;
}

export interface Attempt {
  attempt: number;
  at: string;
  statusCode: number | null;
  durationMs: number;
  errorClass?: string | null;
  error: string | null;
  responseSnippet: string | null;
}

export interface DeliveryDetail extends Delivery {
  attempts: Attempt[];
  payload?: unknown;
}

export interface Secret {
  secret: string;
  previousSecret?: string;
  previousSecretExpiresAt?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Result<T> {
  data: T;
  /** The ETag of the resource (its version), when the API sent one. */
  etag: string | null;
}

interface CallOptions {
  body?: unknown;
  ifMatch?: string | null;
  query?: Record<string, string | number | undefined | null>;
  contentType?: string;
}

export class Api {
  constructor(
    readonly baseUrl: string,
    private readonly token: TokenSource,
  ) {}

  async call<T>(method: string, path: string, opts: CallOptions = {}): Promise<Result<T>> {
    const url = new URL(this.baseUrl.replace(/\/+$/, "") + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
    }
    // A 401 is tried once more with a token asked for again: the host may have refreshed it.
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { Accept: "application/json, application/problem+json" };
      let token: string;
      try {
        token = await this.token();
      } catch {
        throw new ApiError(401, "The page could not get a sign-in token from the portal. Sign in again.");
      }
      if (!token) throw new ApiError(401, "You are not signed in. Sign in to the portal again.");
      headers.Authorization = "Bearer " + token;
      if (opts.body !== undefined) headers["Content-Type"] = opts.contentType ?? "application/json";
      if (opts.ifMatch) headers["If-Match"] = opts.ifMatch;
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers,
          body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
          mode: "cors",
          credentials: "omit",
          cache: "no-store",
          referrerPolicy: "no-referrer",
        });
      } catch {
        throw new ApiError(0, "The Integrations service could not be reached. Check your connection and try again.");
      }
      if (res.status === 401 && attempt === 0) continue;
      const text = await res.text();
      let data: unknown = null;
      if (text) {
        try {
          data = JSON.parse(text);
        } catch {
          data = null;
        }
      }
      if (!res.ok) throw errorOf(res.status, data);
      return { data: data as T, etag: res.headers.get("ETag") };
    }
  }

  get<T>(path: string, query?: CallOptions["query"]) {
    return this.call<T>("GET", path, { query });
  }
}

function errorOf(status: number, body: unknown): ApiError {
  const p = (body ?? {}) as { detail?: unknown; errors?: unknown };
  const fields = Array.isArray(p.errors)
    ? p.errors
        .filter((e): e is FieldError => typeof e?.field === "string" && typeof e?.message === "string")
        .map((e) => ({ field: e.field, message: e.message }))
    : [];
  const detail = typeof p.detail === "string" && p.detail ? p.detail : "";
  switch (true) {
    case status === 401:
      return new ApiError(status, "Your session has expired or is not valid. Sign in to the portal again.");
    case status === 412:
      return new ApiError(status, "Someone else changed this while you were editing. The latest version has been loaded; review it and try again.", fields);
    case status === 429:
      return new ApiError(status, detail || "Too many requests. Wait a moment and try again.", fields);
    case status >= 500 && !detail:
      return new ApiError(status, `The Integrations service had a problem (${status}). Try again in a moment.`);
    case status === 404 && !detail:
      return new ApiError(status, "Not found. It may have been deleted.");
  }
  return new ApiError(status, detail || `The request failed (${status}).`, fields);
}

/** The message an unknown thrown value shows. */
export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  return "Something went wrong. Try again.";
}

/** A thrown value as an ApiError (status 0 when it is not one). */
export function apiError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(0, messageOf(e));
}

/** A circuit breaker, as GET /v1/subscriptions/{id} and GET /v1/agents/{platform} show it. */
export interface Circuit {
  state: string;
  failures?: number;
  openedAt?: string | null;
  retryAt?: string | null;
  lastError?: string | null;
}
