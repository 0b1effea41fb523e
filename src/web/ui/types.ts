// Shapes of the dashboard API's answers (docs/dashboard.md "API").

export interface Session { csrf: string; id: string; name: string }

export interface RoundSummary {
  started_at: number; finished_at: number; peers_reached: number; peers_total: number;
  pushed: number; pulled: number; released: number; healed: number; at_risk: number;
  bytes_sent: number; bytes_received: number; errors: { peer?: string; step: string; error: string }[]; error_count?: number;
}

export interface Overview {
  id: string; name: string; api_url: string; peers: number; objects: number; bytes: number; at_risk: number;
  files: number; uptime_s: number; build: string; dashboard_url: string | null;
  sync: { busy: boolean; next_at: number | null; last: RoundSummary | null };
}

export interface FileRow {
  name: string; path: string; size: number; version: number; versions: number; manifest_hash: string; chunks: number;
  added_at: number; copies: number; desired: number; holders: string[]; shared_with: string[];
}

export interface FilesPage { total: number; offset: number; limit: number; files: FileRow[] }

export interface FileVersion { version: number; size: number; manifest_hash: string; added_at: number; chunks: number }

export interface FeedItem {
  from: string; from_name: string | null; filename: string; file_type: string; total_size: number;
  granted_at: number; manifest_hash: string; available: boolean;
}

export interface Conversation { peer: string; name: string; unread: number; queued: number; last_at: number | null; messages: number }

export interface ChatLine { id: string; from: string; to: string; text: string; sent_at: number; seq: number; delivered: boolean; error?: string }

export interface RouteView { url: string; kind: string; latency_ms: number | null; throughput_MBps: number | null; score: number | null; last_seen: number | null }

export interface PeerView { id: string; name: string; preferred: boolean; online: boolean; uptime: number | null; best_route: string | null; routes: RouteView[] }

export interface Settings {
  saved: Record<string, unknown>;
  running: Record<string, unknown>;
  /** The relays the running cell listens on (relay.urls as it started). */
  relays: { url: string; connected: boolean }[];
  dashboard: { url: string | null; host: string; port: number };
}

export interface UpdateOffer { version: string; build_hash: string; from: string; signed_by: string; state: 'offered' | 'accepted' | 'installed' | 'bad'; reason?: string }

export interface Updates { current: { version: string; build_hash: string | null }; supervised: boolean; offers: UpdateOffer[] }

export interface NearbyCell { id: string; name: string; addresses: string[] }

export interface WatchedFolder { root: string; state: string; added_at: number; files: number; gone: number; note: string | null; scan: unknown }
