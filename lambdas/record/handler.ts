import * as z from 'zod';
import { dynamoClient } from '../core/aws/runtime.js';
import { loadConfig } from '../core/config.js';
import { SlotEnvSchema, slotDeps } from '../core/slot-wake.js';
import { stepHandler } from '../core/step-input.js';
import { DynamoBudgetStore } from '../core/store/budget.js';
import { DynamoJobStore } from '../core/store/jobs.js';
import { Table } from '../core/store/table.js';
import { DynamoTaskStore } from '../core/store/tasks.js';
import { recordResults } from './record.js';

const config = loadConfig(SlotEnvSchema.extend({ TABLE_NAME: z.string().min(1) }));
const table = new Table(dynamoClient(), config.TABLE_NAME);
const deps = {
  jobs: new DynamoJobStore(table),
  tasks: new DynamoTaskStore(table),
  ...slotDeps(table, config),
  budget: new DynamoBudgetStore(table),
};

export const handler = stepHandler('recorded', (input) => recordResults(input, deps));
