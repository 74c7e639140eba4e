/** @type {import('next').NextConfig} */
const nextConfig = {
  // Native addons and the Prisma client load from node_modules at run time, not from the bundle.
  serverExternalPackages: ['onnxruntime-node', 'hnswlib-node', 'better-sqlite3', '@prisma/client', '@prisma/adapter-better-sqlite3', '@huggingface/tokenizers', '@ffmpeg-installer/ffmpeg', '@ffprobe-installer/ffprobe', 'pg', '@electric-sql/pglite', '@electric-sql/pglite-pgvector', '@electric-sql/pglite-socket'],
  poweredByHeader: false,
  typescript: { tsconfigPath: 'tsconfig.next.json' },
  reactStrictMode: true,
};

export default nextConfig;
