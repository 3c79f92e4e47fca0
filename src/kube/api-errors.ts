// client-node 1.x throws ApiException with the HTTP code, a JSON body and all
// response headers in the message: too much for a log field or /readyz.

export function httpCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** "HTTP 404: the server could not find the requested resource", or the error's own message. */
export function describeApiError(error: unknown): string {
  const code = httpCode(error);
  if (code === undefined) return error instanceof Error ? error.message : String(error);
  const body = (error as { body?: unknown }).body;
  let message: string | undefined;
  if (typeof body === 'string') {
    try {
      message = (JSON.parse(body) as { message?: string }).message;
    } catch {
      message = body.slice(0, 200);
    }
  }
  message = message?.replace(/\s+/g, ' ').trim();
  return `HTTP ${code}${message ? `: ${message}` : ''}`;
}
