// "Sign out" in the header, for a browser that holds a session cookie (VIDSEARCH_PASSWORD set).
// A POST form: sign-out is a change, and a link could be followed by any page that embeds it.
import { cookies } from 'next/headers';
import { SESSION_COOKIE } from '@/app/lib/auth';

export async function SignOut() {
  if (!(await cookies()).has(SESSION_COOKIE)) return null;
  return (
    <form method="post" action="/logout" className="sign-out">
      <button type="submit" className="nav-link">
        Sign out
      </button>
    </form>
  );
}
