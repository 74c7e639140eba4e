// The address of "more like this moment": the search page with like=<videoId>&t=<seconds>, as
// GET /api/search takes it. Pure, so server pages and client leaves both build it.

/** `/?like=12&t=4.5`; the time to the millisecond, as the API's answers give times. */
export function likeHref(videoId: number, time: number): string {
  const t = Math.max(0, Math.round(time * 1000) / 1000);
  return `/?${new URLSearchParams({ like: String(videoId), t: String(t) })}`;
}
