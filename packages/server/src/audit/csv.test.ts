import { parseStrictJson } from '@emisar/protocol';
import { describe, expect, it } from 'vitest';
import { csvCell, csvFromNdjson } from './csv.js';

async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const chunk of chunks) text += chunk;
  return text;
}

describe('audit CSV', () => {
  it('neutralises cells a spreadsheet would evaluate', () => {
    expect(csvCell('=HYPERLINK("http://evil","x")')).toBe(`"'=HYPERLINK(""http://evil"",""x"")"`);
    expect(csvCell('+1+1')).toBe("'+1+1");
    expect(csvCell('-2')).toBe("'-2");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tcmd')).toBe("'\tcmd");
    expect(csvCell('plain text')).toBe('plain text');
    expect(csvCell('a, "b"\nc')).toBe('"a, ""b""\nc"');
    expect(csvCell(null)).toBe('');
    expect(csvCell(true)).toBe('true');
    expect(csvCell(42)).toBe('42');
  });

  it('writes objects as JSON, exact numbers included', () => {
    expect(csvCell(parseStrictJson('{"n":9223372036854775807,"s":"x"}'))).toBe(
      '"{""n"":9223372036854775807,""s"":""x""}"',
    );
  });

  it('turns NDJSON chunks into a header and one CRLF row per event', async () => {
    const line = (seq: number, label: string) =>
      JSON.stringify({
        seq,
        id: `id-${seq}`,
        occurred_at: '2026-01-01T00:00:00.000000Z',
        account_id: 'acc',
        event_type: 'user.signed_in',
        actor_kind: 'user',
        actor_id: null,
        actor_label: label,
        target_kind: null,
        target_id: null,
        target_label: null,
        ip_address: null,
        user_agent: null,
        request_id: null,
        auth_method: null,
        mfa: false,
        payload: {},
        prev_hash: null,
        hash: 'h',
      });
    async function* ndjson() {
      yield `${line(1, 'alice')}\n${line(2, '=cmd|calc')}\n`;
      yield `${line(3, 'carol')}\n`;
    }
    const csv = await collect(csvFromNdjson(ndjson()));
    const rows = csv.split('\r\n');
    expect(rows[0]).toBe(
      '\uFEFFseq,id,occurred_at,account_id,event_type,actor_kind,actor_id,actor_label,target_kind,target_id,target_label,ip_address,user_agent,request_id,auth_method,mfa,payload,prev_hash,hash',
    );
    expect(rows[2]).toBe(
      "2,id-2,2026-01-01T00:00:00.000000Z,acc,user.signed_in,user,,'=cmd|calc,,,,,,,,false,{},,h",
    );
    expect(rows).toHaveLength(5);
    expect(rows[4]).toBe('');
  });
});
