import { describe, expect, it } from '@jest/globals';
import { pinsInRound } from '../../bench/pin-bench.js';

const rounds = (count: number, total: number, offset = 0) => Array.from({ length: total }, (_, round) => round).filter((round) => pinsInRound(round, count, total, offset));

describe('pinsInRound', () => {
  it('spreads a variant\'s pins evenly over the rounds, every round for the light ones', () => {
    expect(rounds(20, 20)).toHaveLength(20);
    expect(rounds(10, 20)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    expect(rounds(10, 20, 1)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(rounds(3, 20)).toHaveLength(3);
  });
});
