/** What the hub answers a webhook request with (a vendor's, or any system's). */
export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
  /** Seconds, with a 503: when the sender should try again. */
  retryAfterSeconds?: number;
}

/** A refused webhook: its status and why, never more (the sender is not authenticated). */
export function refuseWebhook(status: number, reason: string): WebhookAnswer {
  return { status, body: { error: reason } };
}
