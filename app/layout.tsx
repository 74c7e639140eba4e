import type { Metadata } from 'next';
import Link from 'next/link';
import { NavLink } from '@/app/ui/nav-link';
import { SignOut } from '@/app/ui/sign-out';
import './globals.css';

export const metadata: Metadata = {
  title: { default: 'vidsearch', template: '%s · vidsearch' },
  description: 'Search your video library by what happens in it',
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>
        {/* Without JavaScript: a part of the page that streams in after the first bytes (results
            under a Suspense boundary) arrives hidden, and only a script would swap it for its
            skeleton. Show it, and hide the skeletons, so every page works without JavaScript. */}
        <noscript>
          <style>{'div[hidden][id^="S:"]{display:block}[aria-busy="true"]{display:none}'}</style>
        </noscript>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="site-header">
          <Link href="/" className="brand">
            vidsearch
          </Link>
          <nav aria-label="Main">
            <NavLink href="/">Search</NavLink>
            <NavLink href="/library">Library</NavLink>
            <NavLink href="/actions">Actions</NavLink>
            <SignOut />
          </nav>
        </header>
        <main id="main">{children}</main>
      </body>
    </html>
  );
}
