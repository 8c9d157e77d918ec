import { OpenAPIHono, z } from '@hono/zod-openapi';
import {
  addGroupMember,
  deleteGroup,
  getGroup,
  listGroupMembers,
  listGroups,
  removeGroupMember,
  upsertGroup,
} from '../../db/queries/groups';
import { getRecipient } from '../../db/queries/recipients';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { notFound, validationFailed } from '../errors';
import {
  errorResponse,
  GroupInputSchema,
  GroupMemberSchema,
  GroupSchema,
  groupKeyParam,
  identifier,
  jsonBody,
  jsonResponse,
} from '../schemas';

const groupKey = groupKeyParam();
const groupParams = z.object({ key: groupKey });
const memberParams = z.object({ key: groupKey, externalId: identifier('externalId', 'tech-42') });
const GroupWithMembers = GroupSchema.extend({ members: z.array(GroupMemberSchema) }).openapi(
  'GroupWithMembers',
);

const putRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'put',
    path: '/v1/groups/{key}',
    tags: ['groups'],
    summary: 'Create or update a group',
    request: { params: groupParams, body: jsonBody(GroupInputSchema, 'The group') },
    responses: {
      200: jsonResponse(GroupSchema, 'Updated'),
      201: jsonResponse(GroupSchema, 'Created'),
      400: errorResponse('Invalid group'),
      409: errorResponse('Another group has this name'),
    },
  },
);

const getRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/groups/{key}',
    tags: ['groups'],
    summary: 'A group and its members',
    request: { params: groupParams },
    responses: { 200: jsonResponse(GroupWithMembers, 'The group'), 404: errorResponse('No such group') },
  },
);

const deleteRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'delete',
    path: '/v1/groups/{key}',
    tags: ['groups'],
    summary: 'Delete a group (its recipients stay)',
    request: { params: groupParams },
    responses: { 204: { description: 'Deleted' }, 404: errorResponse('No such group') },
  },
);

const listRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/groups',
    tags: ['groups'],
    summary: 'All groups with member counts',
    responses: { 200: jsonResponse(z.object({ items: z.array(GroupSchema) }), 'The groups') },
  },
);

const putMemberRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'put',
    path: '/v1/groups/{key}/members/{externalId}',
    tags: ['groups'],
    summary: 'Add a recipient to a group',
    request: { params: memberParams },
    responses: {
      200: jsonResponse(GroupSchema, 'Already a member'),
      201: jsonResponse(GroupSchema, 'Added'),
      404: errorResponse('No such group'),
      422: errorResponse('No such recipient'),
    },
  },
);

const deleteMemberRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'delete',
    path: '/v1/groups/{key}/members/{externalId}',
    tags: ['groups'],
    summary: 'Remove a recipient from a group',
    request: { params: memberParams },
    responses: { 204: { description: 'Removed' }, 404: errorResponse('No such group or membership') },
  },
);

export const groupRoutes = new OpenAPIHono<AppEnv>()
  .openapi(putRoute, async (c) => {
    const { group, created } = await upsertGroup(
      c.var.deps.db,
      c.var.tenantId,
      c.req.valid('param').key,
      c.req.valid('json'),
    );
    return created ? c.json(group, 201) : c.json(group, 200);
  })
  .openapi(getRoute, async (c) => {
    const { key } = c.req.valid('param');
    const group = await getGroup(c.var.deps.db, c.var.tenantId, key);
    if (!group) throw notFound(`group ${key}`);
    return c.json({ ...group, members: await listGroupMembers(c.var.deps.db, c.var.tenantId, key) }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    const { key } = c.req.valid('param');
    if (!(await deleteGroup(c.var.deps.db, c.var.tenantId, key))) throw notFound(`group ${key}`);
    return c.body(null, 204);
  })
  .openapi(listRoute, async (c) => c.json({ items: await listGroups(c.var.deps.db, c.var.tenantId) }, 200))
  .openapi(putMemberRoute, async (c) => {
    const { key, externalId } = c.req.valid('param');
    const { db } = c.var.deps;
    if (!(await getGroup(db, c.var.tenantId, key))) throw notFound(`group ${key}`);
    if (!(await getRecipient(db, c.var.tenantId, externalId))) {
      throw validationFailed([
        {
          path: 'externalId',
          message: `unknown recipient '${externalId}'; create it with PUT /v1/recipients/${externalId}`,
        },
      ]);
    }
    const added = await addGroupMember(db, c.var.tenantId, key, externalId);
    const group = (await getGroup(db, c.var.tenantId, key))!;
    return added ? c.json(group, 201) : c.json(group, 200);
  })
  .openapi(deleteMemberRoute, async (c) => {
    const { key, externalId } = c.req.valid('param');
    if (!(await removeGroupMember(c.var.deps.db, c.var.tenantId, key, externalId))) {
      throw notFound(`member ${externalId} of group ${key}`);
    }
    return c.body(null, 204);
  });
