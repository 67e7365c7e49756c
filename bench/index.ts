/** `npm run bench`: runs every benchmark in turn. */
import { sessionStoreBench } from './session-store-bench.js';

await sessionStoreBench();
