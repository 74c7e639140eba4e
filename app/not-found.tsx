import Link from 'next/link';

export default function NotFound() {
  return (
    <section className="notice">
      <h1>Not found</h1>
      <p>There is no such page, or the video is not in the index (it may have been removed since).</p>
      <p>
        <Link href="/">Search</Link> or browse the <Link href="/library">library</Link>.
      </p>
    </section>
  );
}
