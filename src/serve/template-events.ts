// Events on the webhook's own Pod about its templates directory: `kubectl
// describe pod` and `kubectl get events` are where an operator looks when a
// rollout of templates goes wrong, and the process keeps serving the last good
// set, so nothing else fails loudly. The Pod is known through the downward API
// (the chart sets POD_NAME, POD_NAMESPACE and POD_UID); without them (run
// locally) no Event is written.
import type { ReloadEvent } from '../templates/store.js';

export interface PodIdentity {
  name: string;
  namespace: string;
  uid: string;
}

/** The Pod this process runs in, or undefined when any of the three is missing. */
export function podIdentity(env: Readonly<Record<string, string | undefined>>): PodIdentity | undefined {
  const name = env['POD_NAME'] ?? '';
  const namespace = env['POD_NAMESPACE'] ?? '';
  const uid = env['POD_UID'] ?? '';
  return name === '' || namespace === '' || uid === '' ? undefined : { name, namespace, uid };
}

export interface TemplateEvent {
  type: 'Warning' | 'Normal';
  reason: 'TemplatesInvalid' | 'TemplatesLoaded';
  message: string;
}

/** The apiserver's limit on an Event's note (events.k8s.io/v1); core/v1 Events are kept to it too. */
export const EVENT_MESSAGE_LIMIT = 1024;

/** The head, then as many whole items as fit in the limit, then how many were left out. */
export function listWithin(head: string, items: readonly string[]): string {
  let message = head;
  for (const [i, item] of items.entries()) {
    const left = items.length - i - 1;
    const more = left > 0 ? ` (+${left} more)` : '';
    const joined = `${message}${i === 0 ? ': ' : '; '}${item}`;
    if (joined.length + more.length <= EVENT_MESSAGE_LIMIT) {
      message = joined;
      continue;
    }
    // The one before fitted with room for this count.
    if (i > 0) return `${message} (+${left + 1} more)`;
    // Even the first is too long: cut it (the log line has it whole).
    return `${joined.slice(0, Math.max(0, EVENT_MESSAGE_LIMIT - more.length - 1))}…${more}`;
  }
  return message;
}

/**
 * Which Event a reload of the templates directory calls for: a Warning
 * TemplatesInvalid once per distinct set of problems (not per re-read of the
 * same broken files), and a Normal TemplatesLoaded when a valid set loads
 * after one. Pure: the caller writes the Event.
 */
export class TemplateEvents {
  /** The problems last told, joined; '' while the directory is valid. */
  private told = '';

  constructor(private readonly directory: string) {}

  next(event: ReloadEvent): TemplateEvent | undefined {
    if (!event.ok) {
      const key = event.errors.join('\n');
      if (key === this.told) return undefined;
      this.told = key;
      const count = event.errors.length === 1 ? '1 problem' : `${event.errors.length} problems`;
      const kept =
        event.keptRevision === undefined ? 'no valid set has loaded, the webhook is not ready' : `the last good set (revision ${event.keptRevision}) stays in force`;
      return { type: 'Warning', reason: 'TemplatesInvalid', message: listWithin(`templates in ${this.directory} rejected, ${kept}; ${count}`, event.errors) };
    }
    if (this.told === '') return undefined;
    this.told = '';
    const names = [...event.set.templates.keys()];
    return {
      type: 'Normal',
      reason: 'TemplatesLoaded',
      message: listWithin(`templates in ${this.directory} loaded (revision ${event.set.revision}), ${names.length} in force`, names),
    };
  }
}
