// The catalog domain's face: other domains and the composition root import only this.
export { buildCatalog, registerCatalogCommands } from './build.js';
export type { DispatchContract } from './dispatch-contract.js';
export { resolveDispatchContract } from './dispatch-contract.js';
export type { AdvertisementDeps } from './ingest.js';
export { advertisementTooLarge, recordAdvertisement } from './ingest.js';
export type { PublishedCatalog } from './published.js';
export { loadPublishedCatalog } from './published.js';
export type { AdvertisedAction, CatalogQueries, TrustedOffering } from './queries.js';
export { catalogQueries } from './queries.js';
export { registerCatalogRoutes } from './routes.js';
export { createCatalogService } from './service.js';
export { accountTables } from './tables.js';
