// GET /login: the password form. The form posts to /login, which the server's gate answers itself
// (app/lib/auth.ts): a session cookie and a redirect to `next`, or back here with `error`. A plain
// HTML form, so signing in needs no JavaScript.
import type { Metadata } from 'next';
import Link from 'next/link';
import { safeNext } from '@/app/lib/auth';
import { processServerConfig } from '@/indexer/settings';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Sign in', robots: { index: false } };

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

function credentials(): { password: boolean; token: boolean } {
  try {
    const cfg = processServerConfig();
    return { password: cfg.password !== undefined, token: cfg.apiToken !== undefined };
  } catch {
    // A setting the server refused to start with cannot be the one it runs with: say "no password".
    return { password: false, token: false };
  }
}

export default async function LoginPage({ searchParams }: Props) {
  const sp = await searchParams;
  const next = safeNext(one(sp.next));
  const error = one(sp.error);
  const retry = Math.max(1, Math.floor(Number(one(sp.retry))) || 1);
  const { password, token } = credentials();

  if (!password) {
    return (
      <section className="notice login">
        <h1>Sign in</h1>
        {token ? (
          <p>
            Browser sign-in is off: this server only takes an API token (<code>Authorization: Bearer …</code>). To sign in from a browser, start it with{' '}
            <code>VIDSEARCH_PASSWORD</code> set.
          </p>
        ) : (
          <p>
            This server asks for no password. <Link href={next}>Go on</Link>.
          </p>
        )}
      </section>
    );
  }

  return (
    <section className="login">
      <h1>Sign in</h1>
      {error === 'wrong' && (
        <p className="notice notice-error" role="alert" data-testid="login-error">
          Wrong password. Try again.
        </p>
      )}
      {error === 'wait' && (
        <p className="notice notice-error" role="alert" data-testid="login-error">
          Too many wrong passwords from your address: wait {retry} {retry === 1 ? 'second' : 'seconds'}, then try again.
        </p>
      )}
      {one(sp.signedout) && <p className="notice">You are signed out.</p>}
      <form method="post" action="/login" className="login-form">
        <input type="hidden" name="next" value={next} />
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required autoFocus />
        <button type="submit" className="button">
          Sign in
        </button>
      </form>
      <p className="hint">The password is the server&rsquo;s <code>VIDSEARCH_PASSWORD</code>.</p>
    </section>
  );
}
