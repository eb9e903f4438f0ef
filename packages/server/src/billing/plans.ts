/** Plans and what they entitle (spec/privacy-and-plans.md). No subscription means Free. */
export const PLANS = ['free', 'team', 'enterprise'] as const;
export type Plan = (typeof PLANS)[number];

export interface Entitlements {
  /** null = unlimited */
  runnersLimit: number | null;
  retentionDays: number;
}

const ENTITLEMENTS: Record<Plan, Entitlements> = {
  free: { runnersLimit: 3, retentionDays: 7 },
  team: { runnersLimit: 100, retentionDays: 90 },
  enterprise: { runnersLimit: null, retentionDays: 365 },
};

export function isPlan(value: string): value is Plan {
  return (PLANS as readonly string[]).includes(value);
}

/** An unknown plan keeps data for the longest window, so nothing is deleted by mistake. */
export function entitlementsOf(plan: string): Entitlements {
  if (isPlan(plan)) return ENTITLEMENTS[plan];
  return {
    runnersLimit: ENTITLEMENTS.free.runnersLimit,
    retentionDays: ENTITLEMENTS.enterprise.retentionDays,
  };
}
