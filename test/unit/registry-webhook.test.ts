import { describe, expect, it } from 'vitest';
import { parseRegistryPush } from '../../src/server/registry-webhook.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('registry webhook payloads', () => {
  it('reads the generic shape', () => {
    expect(parseRegistryPush({ repository: 'registry.example.com/team/worker', tag: '1.4.2', digest: D })).toEqual([
      { repository: 'registry.example.com/team/worker', tag: '1.4.2', digest: D },
    ]);
    expect(parseRegistryPush({ repository: 'team/worker' })).toEqual([{ repository: 'team/worker' }]);
  });

  it("reads Harbor's PUSH_ARTIFACT event and ignores its other events", () => {
    // The shape Harbor 2.x documents for its HTTP webhook (event_data.resources / repository).
    const push = {
      type: 'PUSH_ARTIFACT',
      occur_at: 1764100000,
      operator: 'robot$ci',
      event_data: {
        resources: [{ digest: D, tag: '1.4.2', resource_url: 'harbor.example.com/team/worker:1.4.2' }],
        repository: {
          date_created: 1764000000,
          name: 'worker',
          namespace: 'team',
          repo_full_name: 'team/worker',
          repo_type: 'private',
        },
      },
    };
    expect(parseRegistryPush(push)).toEqual([{ repository: 'team/worker', tag: '1.4.2', digest: D }]);
    expect(parseRegistryPush({ ...push, type: 'DELETE_ARTIFACT' })).toEqual([]);
  });

  it("reads Docker Hub's push payload", () => {
    // Docker Hub's documented webhook body (push_data, repository.repo_name).
    const hub = {
      callback_url: 'https://registry.hub.docker.com/u/acme/worker/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/',
      push_data: { pushed_at: 1764100000, pusher: 'ci', tag: '1.4.2' },
      repository: {
        comment_count: 0,
        date_created: 1764000000,
        is_private: true,
        name: 'worker',
        namespace: 'acme',
        repo_name: 'acme/worker',
        repo_url: 'https://registry.hub.docker.com/u/acme/worker/',
        status: 'Active',
      },
    };
    expect(parseRegistryPush(hub)).toEqual([{ repository: 'acme/worker', tag: '1.4.2' }]);
  });

  it('says null to anything else', () => {
    expect(parseRegistryPush({ hello: 'world' })).toBeNull();
    expect(parseRegistryPush([1, 2])).toBeNull();
    expect(parseRegistryPush(null)).toBeNull();
  });
});
