'use client';
// "More like this moment": a link to the search for moments like this one. Any view of a moment
// can host it (a result card, the video page, a timeline): it links to `time`, and when the host
// marks an element with `data-like-scope` that holds a <video>, a click takes the moment where
// that player is now instead, so "this" is what the user is looking at.
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { likeHref } from '@/app/lib/like-href';

interface Props {
  videoId: number;
  /** the moment, seconds; the scope's player's position wins once it has played or seeked */
  time: number;
  /** the file's name, for the accessible name */
  name?: string;
  className?: string;
}

export function MoreLikeThis({ videoId, time, name, className }: Props) {
  const router = useRouter();
  function onClick(e: React.MouseEvent<HTMLAnchorElement>) {
    // Modified clicks (new tab, download) keep the link's own moment.
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const player = e.currentTarget.closest('[data-like-scope]')?.querySelector('video');
    // A player that has not started is at its start position (#t=), which is `time` anyway.
    if (!player || player.readyState < 1 || (player.played.length === 0 && player.currentTime === 0)) return;
    e.preventDefault();
    router.push(likeHref(videoId, player.currentTime));
  }
  return (
    <Link
      href={likeHref(videoId, time)}
      onClick={onClick}
      className={`more-like${className ? ` ${className}` : ''}`}
      data-testid="more-like-this"
      title="Find the moments in the library that look most like this one"
      aria-label={`More like this moment${name ? ` of ${name}` : ''}`}
    >
      <span aria-hidden="true">≈</span> More like this
    </Link>
  );
}
