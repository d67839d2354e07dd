import {
  betaIncReg,
  logBeta,
  logGamma,
  normalCdf,
  normalQuantile,
  studentTCdf,
  studentTTwoSidedP
} from '../distributions';

/** Relative difference, absolute near zero. */
function rel(actual: number, expected: number): number {
  return expected === 0
    ? Math.abs(actual)
    : Math.abs(actual - expected) / Math.abs(expected);
}

describe('logGamma / logBeta', () => {
  it('gives log factorials', () => {
    let factorial = 1;
    for (let n = 1; n <= 20; n++) {
      expect(rel(logGamma(n + 1), Math.log((factorial *= n)))).toBeLessThan(
        1e-14
      );
    }
    expect(logGamma(1)).toBeCloseTo(0, 14);
    expect(rel(logGamma(0.5), 0.5 * Math.log(Math.PI))).toBeLessThan(1e-14);
  });

  it('handles the edges of the domain', () => {
    expect(logGamma(0)).toBe(Infinity);
    expect(logGamma(-1)).toBeNaN();
  });

  it('gives B(2, 3) = 1/12 and stays accurate for one large argument', () => {
    expect(rel(logBeta(2, 3), Math.log(1 / 12))).toBeLessThan(1e-14);
    expect(logBeta(3, 2)).toBe(logBeta(2, 3));
    // B(a, ½) = Γ(a)Γ(½)/Γ(a + ½); check against the both-small branch near the switch
    expect(rel(logBeta(9.999999, 0.5), logBeta(10, 0.5))).toBeLessThan(1e-6);
    expect(
      rel(logBeta(10, 12), logGamma(10) + logGamma(12) - logGamma(22))
    ).toBeLessThan(1e-13);
  });
});

describe('betaIncReg', () => {
  it('has closed forms for small parameters', () => {
    for (const x of [0.01, 0.3, 0.5, 0.77, 0.999]) {
      expect(rel(betaIncReg(1, 1, x), x)).toBeLessThan(1e-14);
      expect(rel(betaIncReg(3, 1, x), x ** 3)).toBeLessThan(1e-13);
      expect(rel(betaIncReg(1, 2, x), 1 - (1 - x) ** 2)).toBeLessThan(1e-13);
    }
  });

  it('is symmetric: I_x(a, b) = 1 − I_{1−x}(b, a)', () => {
    for (const [a, b, x] of [
      [2.5, 7, 0.3],
      [40, 3, 0.9],
      [0.5, 0.5, 0.2]
    ]) {
      expect(betaIncReg(a, b, x) + betaIncReg(b, a, 1 - x)).toBeCloseTo(1, 14);
    }
  });

  it('returns the limits and NaN outside the domain', () => {
    expect(betaIncReg(2, 3, 0)).toBe(0);
    expect(betaIncReg(2, 3, 1)).toBe(1);
    expect(betaIncReg(2, 3, 1.5)).toBeNaN();
    expect(betaIncReg(0, 3, 0.5)).toBeNaN();
  });
});

describe('Student t', () => {
  it('matches the Cauchy (df = 1) and df = 2 closed forms', () => {
    for (const t of [0, 0.1, 1, 3.5, 40]) {
      const cauchy = 1 - (2 * Math.atan(t)) / Math.PI;
      expect(rel(studentTTwoSidedP(t, 1), cauchy)).toBeLessThan(1e-13);
      const df2 = 1 - t / Math.sqrt(2 + t * t);
      expect(rel(studentTTwoSidedP(-t, 2), df2)).toBeLessThan(1e-12);
    }
  });

  it('gives a CDF consistent with the two-sided p-value', () => {
    expect(studentTCdf(0, 5)).toBe(0.5);
    expect(studentTCdf(2, 5) - studentTCdf(-2, 5)).toBeCloseTo(
      1 - studentTTwoSidedP(2, 5),
      14
    );
    expect(studentTCdf(Infinity, 3)).toBe(1);
    expect(studentTCdf(-Infinity, 3)).toBe(0);
    expect(studentTTwoSidedP(Infinity, 3)).toBe(0);
    expect(studentTTwoSidedP(NaN, 3)).toBeNaN();
    expect(studentTTwoSidedP(1, 0)).toBeNaN();
  });

  it('approaches the normal distribution for large df', () => {
    expect(
      rel(studentTTwoSidedP(1.96, 1e6), 2 * normalCdf(-1.96))
    ).toBeLessThan(1e-5);
  });
});

describe('normal distribution', () => {
  it('has the familiar quantiles', () => {
    expect(normalQuantile(0.5)).toBe(0);
    expect(rel(normalQuantile(0.975), 1.959963984540054)).toBeLessThan(1e-15);
    expect(normalQuantile(0.025)).toBeCloseTo(-normalQuantile(0.975), 14);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(normalQuantile(2)).toBeNaN();
  });

  it('inverts the CDF across all three branches of AS 241', () => {
    for (const p of [1e-100, 1e-12, 1e-3, 0.05, 0.3, 0.5, 0.8, 0.99]) {
      expect(rel(normalCdf(normalQuantile(p)), p)).toBeLessThan(1e-12);
    }
    expect(normalCdf(0)).toBe(0.5);
    expect(normalCdf(NaN)).toBeNaN();
  });
});
