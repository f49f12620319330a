import { z } from 'zod';
import { loadConfig } from '../core/config.js';
import { dynamoClient } from '../core/runtime.js';
import { stepHandler } from '../core/step-input.js';
import { DynamoJobStore } from '../core/store.js';
import { recordResults } from './record.js';

const config = loadConfig(z.object({ TABLE_NAME: z.string().min(1) }));
const deps = { store: new DynamoJobStore(dynamoClient(), config.TABLE_NAME) };

export const handler = stepHandler('recorded', (input) => recordResults(input, deps));
