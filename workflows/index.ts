export { notificationWorkflow } from './notification';
export { overdueWorkflow } from './overdue';
export { digestWorkflow } from './digest';
export { retentionWorkflow } from './retention';
export { lateFailoverWorkflow } from './late-failover';
